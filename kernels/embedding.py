"""Per-pixel sinusoidal γ embedding, Triton backend (math of csrc/embedding.h).

The π/2 reduction runs in float64 (exact constants through ``tl.full``), the Cephes polynomials
in float32, so the result does not depend on Triton's approximate ``tl.sin`` / ``tl.cos``.
"""
import triton
import triton.language as tl

from . import block_size


@triton.jit
def sincos_f32(a):
    x = a.to(tl.float64)
    shifter = tl.full(x.shape, 6755399441055744.0, tl.float64)
    q = (x * tl.full(x.shape, 0.63661977236758134, tl.float64) + shifter) - shifter
    r = (x - q * tl.full(x.shape, 1.5707963267948966, tl.float64)
         - q * tl.full(x.shape, 6.123233995736766e-17, tl.float64)).to(tl.float32)
    k = q.to(tl.int64) & 3
    z = r * r
    sr = ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * r + r
    cr = ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0
    s = tl.where(k == 0, sr, tl.where(k == 1, cr, tl.where(k == 2, -sr, -cr)))
    c = tl.where(k == 0, cr, tl.where(k == 1, -sr, tl.where(k == 2, -cr, sr)))
    return s, c


@triton.jit
def _gamma_embedding_kernel(g_ptr, f_ptr, out_ptr, total, HALF, PLANE, gamma_max, gamma_span, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    ni = offs // PLANE
    p = offs % PLANE
    f = ni % HALF
    n = ni // HALF
    g = tl.load(g_ptr + n * PLANE + p, mask=mask, other=0.0)
    t = tl.div_rn(g - gamma_max, tl.full(g.shape, 0.0, tl.float32) + gamma_span)
    t = tl.where(t < 0.0, 0.0, t)
    t = tl.where(t > 1.0, 1.0, t)
    freq = tl.load(f_ptr + f, mask=mask, other=0.0)
    s, c = sincos_f32((1000.0 * t) * freq)
    base = out_ptr + n * 2 * HALF * PLANE + p
    tl.store(base + f * PLANE, s, mask=mask)
    tl.store(base + (HALF + f) * PLANE, c, mask=mask)


def gamma_embedding(gamma, freq, out, N, H, W, half, gamma_max, gamma_span):
    total = N * half * H * W
    if total == 0:
        return out
    BLOCK = block_size(1024)
    _gamma_embedding_kernel[(triton.cdiv(total, BLOCK),)](gamma, freq, out, total, half, H * W, gamma_max,
                                                          gamma_span, BLOCK=BLOCK)
    return out
