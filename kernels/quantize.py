"""Universal quantize / dequantize, Triton backend (math of csrc/quantize.h, dither of kernels/dither.py).

IEEE division (``div_rn``) and the same operation order as the reference keep k bit-exact.
"""
import triton
import triton.language as tl

from . import block_size
from .dither import dither_at, dither_value


@triton.jit
def _level_offsets(offs, C, H, W, LC):
    hw = H * W
    nc = offs // hw
    c = nc % C
    n = nc // C
    cl = tl.where(LC == 1, 0, c)
    return (n * LC + cl) * hw + offs % hw


@triton.jit
def _quantize_kernel(y_ptr, level_ptr, delta_ptr, levels, k_ptr, total, C, H, W, LC, seed, dither_frame,
                     BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    y = tl.load(y_ptr + offs, mask=mask, other=0.0)
    lv = tl.load(level_ptr + _level_offsets(offs, C, H, W, LC), mask=mask, other=0)
    lv = tl.minimum(tl.maximum(lv, 0), levels - 1)  # clamped: never reads outside the table
    d = tl.load(delta_ptr + lv, mask=mask, other=1.0)
    u = dither_value(dither_at(offs, C, H, W, seed, dither_frame))
    t = tl.math.div_rn(y, d) + u
    t = tl.math.floor(t + 0.5)
    t = tl.minimum(tl.maximum(t, -1073741824.0), 1073741824.0)
    tl.store(k_ptr + offs, t.to(tl.int32), mask=mask)


@triton.jit
def _dequantize_kernel(k_ptr, level_ptr, delta_ptr, levels, y_ptr, total, C, H, W, LC, seed, dither_frame,
                       BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    k = tl.load(k_ptr + offs, mask=mask, other=0)
    lv = tl.load(level_ptr + _level_offsets(offs, C, H, W, LC), mask=mask, other=0)
    lv = tl.minimum(tl.maximum(lv, 0), levels - 1)  # clamped: never reads outside the table
    d = tl.load(delta_ptr + lv, mask=mask, other=1.0)
    u = dither_value(dither_at(offs, C, H, W, seed, dither_frame))
    tl.store(y_ptr + offs, d * (k.to(tl.float32) - u), mask=mask)


def run(encode, src, level, delta, out, N, C, H, W, LC, seed, dither_frame):
    total = N * C * H * W
    if total == 0:
        return out
    BLOCK = block_size(1024)
    kernel = _quantize_kernel if encode else _dequantize_kernel
    kernel[(triton.cdiv(total, BLOCK),)](src, level, delta, delta.numel(), out, total, C, H, W, LC, seed, dither_frame,
                                         BLOCK=BLOCK)
    return out
