"""Forward noising q(z_t | y) at a per-element log-SNR (docs/design.md §3.1, §4).

    z = α(γ)·y + σ(γ)·ξ,   ξ = √12·(U − ½),   α = sqrt(sigmoid(γ)), σ = sqrt(sigmoid(−γ))

``gamma`` is a float32 map (N,1,H,W) (broadcast over channels) or (N,C,H,W). The uniform U is
either given (``uniform``, float32 like ``y``, expected in [0, 1); not range-checked) or
generated from the counter hash with ``seed=``/``dither_frame=``: then U − ½ is exactly
``hashed_dither(y.shape, seed, dither_frame)`` (the quantizer's dither, csrc/dither_hash.h: keyed on
seed, dither_frame + n, channel, row, column), so ξ = √12·hashed_dither(...) is reproducible on every
backend. Use a seed different from the quantizer's when the noise must be independent of the
dither. Float output: within a few float32 ulps of α|y| + σ|ξ| of the float64 value, |γ| ≤ 80
(tests/test_noise.py). ``out`` may be ``y`` (in place).
"""
from __future__ import annotations

import math

import torch

from .. import _native
from . import _checks
from ._dispatch import Op
from .dither import hashed_dither_reference

__all__ = ["forward_noise", "forward_noise_reference"]

SQRT12 = math.sqrt(12.0)


def _prepare(y, gamma, uniform, seed, dither_frame):
    y = _checks.tensor(y, "y", torch.float32)
    if y.dim() != 4:
        raise ValueError(f"y must be (N,C,H,W), got shape {tuple(y.shape)}")
    g = _checks.side_map(gamma, "gamma", torch.float32, y, "y")
    if (uniform is None) == (seed is None):
        raise ValueError("give exactly one of `uniform` (a tensor of U) and `seed` (hashed U)")
    if uniform is not None:
        uniform = _checks.tensor(uniform, "uniform", torch.float32, y.device)
        _checks.same_shape("y", y, "uniform", uniform)
        return y, g, uniform, 0, 0
    return y, g, None, _checks.uint32(seed, "seed"), _checks.uint32(dither_frame, "dither_frame")


def _out(out, y):
    return _checks.output(out, y.shape, torch.float32, y.device)


def forward_noise_reference(y, gamma, uniform=None, *, seed=None, dither_frame: int = 0, out=None):
    """z = α(γ)·y + σ(γ)·√12·(U − ½), U given or hashed (see the module docstring)."""
    y, g, U, seed, dither_frame = _prepare(y, gamma, uniform, seed, dither_frame)
    u = hashed_dither_reference(y.shape, seed, dither_frame, device=y.device) if U is None else U - 0.5
    a, s = torch.sigmoid(g).sqrt(), torch.sigmoid(-g).sqrt()
    res = a * y + s * (SQRT12 * u)
    return _out(out, y).copy_(res)


forward_noise = Op("forward_noise", forward_noise_reference)


def _native_call(which, y, gamma, uniform, seed, dither_frame, out):
    y, g, U, seed, dither_frame = _prepare(y, gamma, uniform, seed, dither_frame)
    out = _out(out, y)
    if y.numel() == 0:
        return out
    N, C, H, W = y.shape
    if which == "triton":
        from rac_video.kernels import noise as kn

        kn.forward_noise(y, g, U, out, N, C, H, W, g.shape[1], seed, dither_frame)
        return out
    # a 0 pointer for U selects the hashed U
    args = (y.data_ptr(), g.data_ptr(), 0 if U is None else U.data_ptr(), out.data_ptr(), N, C, H, W, g.shape[1],
            seed, dither_frame)
    if which == "cpu":
        _native.cpu_module()[0].forward_noise(*args)
    else:
        _native.cuda_runtime()[0].forward_noise(*args, *_checks.cuda_stream(y.device))
    return out


for _b in ("cpu", "cuda", "triton"):
    forward_noise.register(_b)(lambda y, gamma, uniform=None, *, seed=None, dither_frame=0, out=None, _b=_b:
                               _native_call(_b, y, gamma, uniform, seed, dither_frame, out))
