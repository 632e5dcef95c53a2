"""Per-pixel sinusoidal embedding of the diffusion time t(γ): the denoiser's conditioning (docs/design.md §3.5.1).

    t = clamp(t(γ), 0, 1),  freq_i = exp(−i·ln(1000)/(D/2 − 1)),  a_i = (1000·t)·freq_i
    out = [sin a_0 … sin a_{D/2−1}, cos a_0 … cos a_{D/2−1}]       (N,1,H,W) → (N,D,H,W)

One fused pass instead of the reference's six tensor passes.

**The angle is the same float32 number on every backend and device**: one IEEE float32
subtraction, division, clamp and two multiplies, in this order, with freq_i from torch's float32
``exp`` *on the CPU* (copied to the tensors' device). The torch reference divides by a 0-dim tensor
on the tensors' device, not by a Python number: torch's CUDA division by a CPU scalar multiplies by
the reciprocal instead, which rounds t differently for some γ and moved CUDA angles near 1000 by
one float32 ulp (6e-5) — that, not the kernels' sin/cos, was the 6e-5 "error" of the CUDA and
Triton backends on an H200. Neither kernel uses fast math: the π/2 reduction runs in float64 and
sin/cos are explicit float32 polynomials (csrc/embedding.h, kernels/embedding.py).

Stated tolerances (tests/test_embedding.py checks each on every backend and device present):

- every backend, the reference included, vs float64 sin/cos of that float32 angle:
  ≤ ``TOL_F64`` = 2.5e-7 absolute (≈ 2 ulp of values near 1);
- every backend vs the torch reference on the same device: ≤ ``TOL_REFERENCE`` = 4e-7;
- vs float64 evaluation of the whole *formula* (angle in float64 too): ≤ ``TOL_FORMULA`` = 1.3e-4,
  the float32 rounding of angles up to 1000 (1000·2^-23 ≈ 1.2e-4), shared by all backends.
"""
from __future__ import annotations

import functools
import math

import torch

from .. import schedule
from .. import _native
from . import _checks
from ._dispatch import Op

__all__ = ["gamma_embedding", "gamma_embedding_reference", "embedding_frequencies", "embedding_angle"]


TOL_F64, TOL_REFERENCE, TOL_FORMULA = 2.5e-7, 4e-7, 1.3e-4


@functools.lru_cache(maxsize=64)
def _frequencies_cpu(dim: int, dtype: torch.dtype) -> torch.Tensor:
    half = dim // 2
    return torch.exp(torch.arange(half, dtype=dtype) * (-math.log(1000.0) / (half - 1)))


@functools.lru_cache(maxsize=64)
def _frequencies_on(dim: int, device: str, dtype: torch.dtype) -> torch.Tensor:
    return _frequencies_cpu(dim, dtype).to(device)


def embedding_frequencies(dim: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """freq_i = exp(−i·ln(1000)/(D/2 − 1)), i < D/2: torch's ``exp`` on the CPU (as the denoiser always
    computed it there), copied to ``device`` — the same numbers on every device."""
    return _frequencies_cpu(dim, dtype).to(device or "cpu", copy=True)


def embedding_time(gamma: torch.Tensor) -> torch.Tensor:
    """t(γ) clamped to [0, 1] with an IEEE division on every device (see the module docstring)."""
    span = torch.full((), schedule.GAMMA_MIN - schedule.GAMMA_MAX, dtype=gamma.dtype, device=gamma.device)
    return ((gamma - schedule.GAMMA_MAX) / span).clamp(0, 1)


def embedding_angle(gamma: torch.Tensor, dim: int) -> torch.Tensor:
    """(N,1,H,W) γ → (N,D/2,H,W) angles (1000·t)·freq_i, the same on every device for float32 γ."""
    freq = _frequencies_on(dim, str(gamma.device), gamma.dtype)
    return (1000.0 * embedding_time(gamma)) * freq.view(1, dim // 2, 1, 1)


def embedding_torch(gamma: torch.Tensor, dim: int) -> torch.Tensor:
    """The formula in plain torch for any float dtype (differentiable); the reference's core."""
    ang = embedding_angle(gamma, dim)
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
    freq = _frequencies_on(dim, str(g.device), torch.float32)
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
