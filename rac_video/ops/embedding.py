"""Per-pixel sinusoidal embedding of the diffusion time t(γ): the denoiser's conditioning (docs/design.md §3.5.1).

    t = clamp(t(γ), 0, 1),  freq_i = exp(−i·ln(1000)/(D/2 − 1)),  a_i = (1000·t)·freq_i
    out = [sin a_0 … sin a_{D/2−1}, cos a_0 … cos a_{D/2−1}]       (N,1,H,W) → (N,D,H,W)

One fused pass instead of the reference's six tensor passes. The angle a_i is computed exactly as
the torch reference does (freq_i from torch on the same device, then two float32 multiplies), so
backends differ from the reference only by their sin/cos: within 4e-7 absolute (both ≈1 ulp of
the true sine of the same float32 angle). Against float64 evaluation of the *formula* every
backend, the reference included, is off by up to ~1e-4: the float32 rounding of angles up to 1000.
"""
from __future__ import annotations

import math

import torch

from .. import schedule
from . import _checks, _native
from ._dispatch import Op

__all__ = ["gamma_embedding", "gamma_embedding_reference", "embedding_frequencies"]


def embedding_frequencies(dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """freq_i = exp(−i·ln(1000)/(D/2 − 1)), i < D/2 (computed by torch, as the denoiser always did)."""
    half = dim // 2
    return torch.exp(torch.arange(half, device=device, dtype=dtype) * (-math.log(1000.0) / (half - 1)))


def embedding_torch(gamma: torch.Tensor, dim: int) -> torch.Tensor:
    """The formula in plain torch for any float dtype (differentiable); the reference's core."""
    t = schedule.t_of_gamma(gamma).clamp(0, 1)
    half = dim // 2
    ang = 1000.0 * t * embedding_frequencies(dim, gamma.device, gamma.dtype).view(1, half, 1, 1)
    return torch.cat([ang.sin(), ang.cos()], dim=1)


def _prepare(gamma, dim):
    g = _checks.tensor(gamma, "gamma", torch.float32)
    if g.dim() != 4 or g.shape[1] != 1:
        raise ValueError(f"gamma must be (N,1,H,W), got shape {tuple(g.shape)}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 4 or dim % 2:
        raise ValueError(f"dim must be an even integer >= 4, got {dim!r}")
    return g


def _out(out, g, dim):
    return _checks.output(out, (g.shape[0], dim, *g.shape[2:]), torch.float32, g.device)


def gamma_embedding_reference(gamma, dim: int = 32, *, out=None):
    """(N,1,H,W) float32 γ → (N,dim,H,W) [sin, cos] of (1000·t(γ))·freq (see the module docstring)."""
    g = _prepare(gamma, dim)
    return _out(out, g, dim).copy_(embedding_torch(g, dim))


gamma_embedding = Op("gamma_embedding", gamma_embedding_reference)


def _native_call(which, gamma, dim, out):
    g = _prepare(gamma, dim)
    out = _out(out, g, dim)
    N, _, H, W = g.shape
    freq = embedding_frequencies(dim, g.device)
    consts = (float(schedule.GAMMA_MAX), float(schedule.GAMMA_MIN - schedule.GAMMA_MAX))
    if which == "triton":
        from rac_video.kernels import embedding as ke

        ke.gamma_embedding(g, freq, out, N, H, W, dim // 2, *consts)
        return out
    args = (g.data_ptr(), freq.data_ptr(), out.data_ptr(), N, H, W, dim // 2, *consts)
    if which == "cpu":
        _native.cpu_module()[0].gamma_embedding(*args)
    else:
        _native.cuda_runtime()[0].gamma_embedding(*args, *_checks.cuda_stream(g.device))
    return out


for _b in ("cpu", "cuda", "triton"):
    gamma_embedding.register(_b)(lambda gamma, dim=32, *, out=None, _b=_b: _native_call(_b, gamma, dim, out))
