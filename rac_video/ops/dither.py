"""Hashed dither u ∈ [-1/2, 1/2) shared by encoder and decoder (docs/design.md §3.3).

The hash (documented in csrc/dither_hash.h) keys every element on (seed, dither_frame, channel,
row, column), so both ends regenerate the same u without sending it, on any backend and
device. ``bits=True`` returns the 24 integer bits (int32) instead of u (float32).
"""
from __future__ import annotations

import torch

from .. import _native
from . import _checks

__all__ = ["hashed_dither", "hashed_dither_reference", "mix32"]
from ._dispatch import Op

_M32 = 0xFFFFFFFF


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    # (x * c) mod 2^32 for 0 <= x < 2^32 in int64 without overflow: split c into 16-bit halves.
    return (x * (c & 0xFFFF) + (((x * (c >> 16)) & 0xFFFF) << 16)) & _M32


def mix32(x: torch.Tensor) -> torch.Tensor:
    """lowbias32 on int64 tensors holding uint32 values (the reference twin of the C/Triton mix32)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def _out(out, shape, bits, device):
    return _checks.output(out, shape, torch.int32 if bits else torch.float32, device)


def hashed_dither_reference(shape, seed: int, dither_frame: int = 0, *, device=None, bits: bool = False, out=None):
    """Dither for a (C,H,W) or (N,C,H,W) latent; batch item n uses ``dither_frame + n``."""
    device = torch.device(device or "cpu")
    N, C, H, W = _checks.shape_nchw(shape)
    seed, dither_frame = _checks.uint32(seed, "seed"), _checks.uint32(dither_frame, "dither_frame")
    ar = lambda k: torch.arange(k, dtype=torch.int64, device=device)  # noqa: E731
    h = mix32(torch.tensor(seed ^ 0x9E3779B9, dtype=torch.int64, device=device))
    h = mix32(h ^ ((ar(N) + dither_frame) & _M32)).view(N, 1, 1, 1)
    h = mix32(h ^ ar(C).view(1, C, 1, 1))
    h = mix32(h ^ ar(H).view(1, 1, H, 1))
    b = mix32(h ^ ar(W).view(1, 1, 1, W)) >> 8
    res = b.to(torch.int32) if bits else (b.to(torch.float64) * 2.0**-24 - 0.5).to(torch.float32)
    o = _out(out, tuple(shape), bits, device)
    o.copy_(res.view(o.shape))
    return o


hashed_dither = Op("hashed_dither", hashed_dither_reference)


@hashed_dither.register("cpu")
def _cpu(shape, seed, dither_frame=0, *, device=None, bits=False, out=None):
    N, C, H, W = _checks.shape_nchw(shape)
    o = _out(out, tuple(shape), bits, "cpu")
    _native.cpu_module()[0].hashed_dither(o.data_ptr(), N, C, H, W, _checks.uint32(seed, "seed"),
                                          _checks.uint32(dither_frame, "dither_frame"), bool(bits))
    return o


@hashed_dither.register("cuda")
def _cuda(shape, seed, dither_frame=0, *, device=None, bits=False, out=None):
    N, C, H, W = _checks.shape_nchw(shape)
    device = torch.device(device)
    o = _out(out, tuple(shape), bits, device)
    index, stream = _checks.cuda_stream(device)
    _native.cuda_runtime()[0].hashed_dither(o.data_ptr(), N, C, H, W, _checks.uint32(seed, "seed"),
                                            _checks.uint32(dither_frame, "dither_frame"), bool(bits), index, stream)
    return o


@hashed_dither.register("triton")
def _triton(shape, seed, dither_frame=0, *, device=None, bits=False, out=None):
    from rac_video.kernels import dither as k

    N, C, H, W = _checks.shape_nchw(shape)
    o = _out(out, tuple(shape), bits, torch.device(device or "cpu"))
    k.hashed_dither(o, N, C, H, W, _checks.uint32(seed, "seed"), _checks.uint32(dither_frame, "dither_frame"), bits)
    return o
