"""Gaussian-conditional entropy parameters, Triton backend (math of csrc/entropy_params.h).

offset and index use IEEE division (``div_rn``) and the reference's operation order, the scale
index is a comparison-only binary search and the mean bucket two IEEE additions and an exact
power-of-two multiply, so both are bit-exact; bits follows the header's
two regimes (lower-tail CDF difference below s' = 8, log-domain midpoint series above).
"""
import triton
import triton.language as tl

from . import block_size
from .dither import dither_at, dither_value
from .quantize import _level_offsets

SERIES_SCALE = 8.0


@triton.jit
def _erfc(x):
    """erfc with ~1e-7 relative error everywhere (Numerical Recipes §6.2 "erfcc" form)."""
    z = tl.abs(x)
    t = 1.0 / (1.0 + 0.5 * z)
    p = 0.17087277
    p = -0.82215223 + t * p
    p = 1.48851587 + t * p
    p = -1.13520398 + t * p
    p = 0.27886807 + t * p
    p = -0.18628806 + t * p
    p = 0.09678418 + t * p
    p = 0.37409196 + t * p
    p = 1.00002368 + t * p
    p = -1.26551223 + t * p
    a = t * tl.math.exp(-z * z + p)
    return tl.where(x >= 0.0, a, 2.0 - a)


@triton.jit
def _bits(k, m, q, scale_min, floor_p, SERIES: tl.constexpr):
    s = tl.maximum(q, scale_min)
    v = -tl.abs(k.to(tl.float32) - m)
    max_bits = -tl.math.log2(floor_p)
    # narrow bins (s' >= SERIES): log of the midpoint density times its Taylor correction
    h = 1.0 / tl.maximum(s, SERIES)  # (the other lanes take b_tail; keep these finite)
    c = tl.maximum(v * h, -40.0)
    c2 = c * c
    h2 = h * h
    corr = h2 * ((c2 - 1.0) * (1.0 / 24.0) + h2 * ((c2 * c2 - 6.0 * c2 + 3.0) * (1.0 / 1920.0)))
    ln_p = tl.math.log(h) - 0.5 * c2 - 0.91893853320467274 + tl.math.log(1.0 + corr)
    b_series = tl.minimum(ln_p * -1.44269504088896341, max_bits)
    b_series = tl.where(v * h < -40.0, max_bits, b_series)
    # wide bins: difference of the two lower-tail CDFs (|k − m| reflected below the mean)
    k1 = 0.70710678118654752 / s
    p = 0.5 * (_erfc(-(v + 0.5) * k1) - _erfc(-(v - 0.5) * k1))
    b_tail = -tl.math.log2(tl.maximum(p, floor_p))
    return tl.where(s < SERIES, b_tail, b_series)


@triton.jit
def _entropy_params_kernel(mu_ptr, scale_ptr, level_ptr, delta_ptr, levels, bounds_ptr, nb, k_ptr, off_ptr, idx_ptr,
                           bits_ptr, total, C, H, W, LC, seed, dither_frame, scale_min, floor_p,
                           BUCKETS: tl.constexpr, TOP: tl.constexpr, LOG: tl.constexpr, HAS_BITS: tl.constexpr, SERIES: tl.constexpr,
                           BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    mu = tl.load(mu_ptr + offs, mask=mask, other=0.0)
    sc = tl.load(scale_ptr + offs, mask=mask, other=1.0)
    lv = tl.load(level_ptr + _level_offsets(offs, C, H, W, LC), mask=mask, other=0)
    lv = tl.minimum(tl.maximum(lv, 0), levels - 1)  # clamped: never reads outside the table
    d = tl.load(delta_ptr + lv, mask=mask, other=1.0)
    u = dither_value(dither_at(offs, C, H, W, seed, dither_frame))
    m = tl.math.div_rn(mu, d) + u
    t = tl.math.floor(m + 0.5)
    t = tl.where(t > 1073741824.0, 1073741824.0, t)
    t = tl.where(t >= -1073741824.0, t, -1073741824.0)
    tl.store(off_ptr + offs, t.to(tl.int32), mask=mask)
    mb = tl.math.floor(((m - t) + 0.5) * BUCKETS)               # t is the offset as a float
    mb = tl.where(mb > BUCKETS - 1.0, BUCKETS - 1.0, mb)
    mb = tl.where(mb >= 0.0, mb, 0.0)                            # also NaN -> 0
    q = tl.math.div_rn(sc, d)
    pos = tl.zeros([BLOCK], dtype=tl.int32)
    for i in tl.static_range(LOG):
        cand = pos + (TOP >> i)
        ok = cand <= nb
        b = tl.load(bounds_ptr + cand - 1, mask=mask & ok, other=0.0)
        pos = tl.where(ok & ((q > b) | (q != q)), cand, pos)
    tl.store(idx_ptr + offs, pos * BUCKETS + mb.to(tl.int32), mask=mask)
    if HAS_BITS:
        k = tl.load(k_ptr + offs, mask=mask, other=0)
        tl.store(bits_ptr + offs, _bits(k, m, q, scale_min, floor_p, SERIES), mask=mask)


def run(mu, scale, level, delta, bounds, k, offset, index, bits, N, C, H, W, LC, seed, dither_frame, scale_min, floor_p,
        buckets=1):
    total = N * C * H * W
    if total == 0:
        return
    nb = bounds.numel()
    top = 1 << (nb.bit_length() - 1)
    BLOCK = block_size(1024)
    has_bits = k is not None
    _entropy_params_kernel[(triton.cdiv(total, BLOCK),)](
        mu, scale, level, delta, delta.numel(), bounds, nb, k if has_bits else offset, offset, index, bits if has_bits else mu,
        total, C, H, W, LC, seed, dither_frame, scale_min, floor_p,
        BUCKETS=buckets, TOP=top, LOG=top.bit_length(), HAS_BITS=has_bits, SERIES=SERIES_SCALE, BLOCK=BLOCK)
