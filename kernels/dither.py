"""Hashed dither, Triton backend. Same hash as csrc/dither_hash.h (documented there)."""
import triton
import triton.language as tl

from . import block_size


@triton.jit
def mix32(x):
    """lowbias32 finaliser on uint32 (wrap-around multiplies)."""
    x = x ^ (x >> 16)
    x = x * tl.full(x.shape, 0x7FEB352D, tl.uint32)
    x = x ^ (x >> 15)
    x = x * tl.full(x.shape, 0x846CA68B, tl.uint32)
    x = x ^ (x >> 16)
    return x


@triton.jit
def dither_bits(seed, frame, channel, row, col):
    """24 dither bits (uint32) of element (frame, channel, row, col); all arguments uint32."""
    h = mix32(seed ^ tl.full(seed.shape, 0x9E3779B9, tl.uint32))
    h = mix32(h ^ frame)
    h = mix32(h ^ channel)
    h = mix32(h ^ row)
    return mix32(h ^ col) >> 8


@triton.jit
def dither_value(bits):
    """u = bits * 2^-24 - 1/2 in [-1/2, 1/2), exact in float32."""
    return bits.to(tl.float32) * 5.9604644775390625e-08 - 0.5


@triton.jit
def dither_at(offs, C, H, W, seed, dither_frame):
    """Dither bits of flat offsets ``offs`` (int64) into a contiguous (N, C, H, W) tensor."""
    x = offs % W
    r = offs // W
    y = r % H
    nc = r // H
    c = nc % C
    n = nc // C
    # seed/dither_frame reach here as scalars, or as plain Python ints when Triton specialises a value of 1
    # into a constexpr (Triton <= 3.6 does; newer ones do not): never call methods on them.
    s = (tl.zeros(offs.shape, tl.int64) + seed).to(tl.uint32)
    f = (n + dither_frame).to(tl.uint32)
    return dither_bits(s, f, c.to(tl.uint32), y.to(tl.uint32), x.to(tl.uint32))


@triton.jit
def _hashed_dither_kernel(out_ptr, total, C, H, W, seed, dither_frame, BITS: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    b = dither_at(offs, C, H, W, seed, dither_frame)
    if BITS:
        tl.store(out_ptr + offs, b.to(tl.int32), mask=mask)
    else:
        tl.store(out_ptr + offs, dither_value(b), mask=mask)


def hashed_dither(out, N, C, H, W, seed, dither_frame, bits):
    total = N * C * H * W
    if total == 0:
        return out
    BLOCK = block_size(1024)
    grid = (triton.cdiv(total, BLOCK),)
    _hashed_dither_kernel[grid](out, total, C, H, W, seed, dither_frame, BITS=bool(bits), BLOCK=BLOCK)
    return out
