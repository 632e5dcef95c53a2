"""Universal quantize / dequantize with per-element step Δ and the shared hashed dither (docs/design.md §3.3).

    k = floor(y/Δ + u + 1/2)      (int32; clamped to ±2^30)
    ŷ = Δ·(k − u)                 (float32)

Δ = ``delta_table[level]`` per element (``rac_video.schedule.level_table(q).delta``); ``level``
is an integer map of shape (N,1,H,W) (broadcast over channels) or (N,C,H,W); u is
``hashed_dither(y.shape, seed, dither_frame)``. The integer k is identical on every backend; ŷ agrees
with the float64 evaluation of the same formula to float32 rounding (one multiply).
"""
from __future__ import annotations

import torch

from .. import _native
from . import _checks
from ._dispatch import Op
from .dither import hashed_dither_reference

__all__ = ["quantize", "dequantize", "quantize_reference", "dequantize_reference"]

_LIMIT = float(2**30)


def _prepare(x, x_name, x_dtype, level, delta_table, check_levels: bool = False):
    """Metadata checks; Δ values once per table tensor; level values only with ``check_levels`` (the references)
    or in debug mode (``_checks.debug_checks``) — the C++ kernels raise on bad levels, CUDA/Triton clamp them."""
    x = _checks.tensor(x, x_name, x_dtype)
    if x.dim() != 4:
        raise ValueError(f"{x_name} must be (N,C,H,W), got shape {tuple(x.shape)}")
    level = _checks.side_map(level, "level", (torch.int32, torch.uint8, torch.int64, torch.int16), x, x_name)
    delta = _checks.tensor(delta_table, "delta_table", torch.float32, x.device)
    if delta.dim() != 1 or delta.numel() == 0:
        raise ValueError(f"delta_table must be a non-empty 1-D float32 tensor, got shape {tuple(delta.shape)}")
    _checks.delta_table_values(delta)
    if check_levels or _checks.values_checked():
        _checks.level_values(level, delta.numel())
    return x, level.to(torch.int32).contiguous(), delta


def _dither(shape, seed, dither_frame, device):
    return hashed_dither_reference(shape, seed, dither_frame, device=device)


def quantize_reference(y, level, delta_table, seed: int, dither_frame: int = 0, *, out=None):
    y, level, delta = _prepare(y, "y", torch.float32, level, delta_table, check_levels=True)
    u = _dither(y.shape, seed, dither_frame, y.device)
    d = delta[level.long()].expand_as(y)
    t = torch.floor((y / d + u) + 0.5)
    return _checks.output(out, y.shape, torch.int32, y.device).copy_(t.clamp(-_LIMIT, _LIMIT))


def dequantize_reference(k, level, delta_table, seed: int, dither_frame: int = 0, *, out=None):
    k, level, delta = _prepare(k, "k", torch.int32, level, delta_table, check_levels=True)
    u = _dither(k.shape, seed, dither_frame, k.device)
    d = delta[level.long()].expand_as(u)
    return _checks.output(out, k.shape, torch.float32, k.device).copy_(d * (k.to(torch.float32) - u))


quantize = Op("quantize", quantize_reference)
dequantize = Op("dequantize", dequantize_reference)


def _native_call(encode, which, x, level, delta_table, seed, dither_frame, out):
    x, level, delta = _prepare(x, "y" if encode else "k", torch.float32 if encode else torch.int32, level, delta_table)
    out = _checks.output(out, x.shape, torch.int32 if encode else torch.float32, x.device)
    N, C, H, W = x.shape
    seed, dither_frame = _checks.uint32(seed, "seed"), _checks.uint32(dither_frame, "dither_frame")
    fn = "quantize" if encode else "dequantize"
    args = (x.data_ptr(), level.data_ptr(), delta.data_ptr(), delta.numel(), out.data_ptr(), N, C, H, W,
            level.shape[1], seed, dither_frame)
    if which == "cpu":
        getattr(_native.cpu_module()[0], fn)(*args)
    elif which == "cuda":
        getattr(_native.cuda_runtime()[0], fn)(*args, *_checks.cuda_stream(x.device))
    else:
        from rac_video.kernels import quantize as kq

        kq.run(encode, x, level, delta, out, N, C, H, W, level.shape[1], seed, dither_frame)
    return out


for _b in ("cpu", "cuda", "triton"):
    quantize.register(_b)(lambda y, level, delta_table, seed, dither_frame=0, *, out=None, _b=_b:
                          _native_call(True, _b, y, level, delta_table, seed, dither_frame, out))
    dequantize.register(_b)(lambda k, level, delta_table, seed, dither_frame=0, *, out=None, _b=_b:
                            _native_call(False, _b, k, level, delta_table, seed, dither_frame, out))
