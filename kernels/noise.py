"""Forward noising q(z_t | y), Triton backend: z = α(γ)·y + σ(γ)·√12·(U − ½).

α/σ as in kernels/ddim.py (csrc/vp_schedule.h); the hashed U − ½ is the dither of kernels/dither.py.
"""
import triton
import triton.language as tl

from . import block_size
from .ddim import alpha_sigma, map_offsets
from .dither import dither_at, dither_value


@triton.jit
def _forward_noise_kernel(y_ptr, g_ptr, u_ptr, out_ptr, total, C, H, W, GC, seed, dither_frame,
                          HASHED: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    y = tl.load(y_ptr + offs, mask=mask, other=0.0)
    g = tl.load(g_ptr + map_offsets(offs, C, H * W, GC), mask=mask, other=0.0)
    if HASHED:
        u = dither_value(dither_at(offs, C, H, W, seed, dither_frame))
    else:
        u = tl.load(u_ptr + offs, mask=mask, other=0.5) - 0.5
    a, s = alpha_sigma(g)
    tl.store(out_ptr + offs, a * y + s * (3.46410161513775459 * u), mask=mask)


def forward_noise(y, gamma, uniform, out, N, C, H, W, GC, seed, dither_frame):
    total = N * C * H * W
    if total == 0:
        return out
    BLOCK = block_size(1024)
    hashed = uniform is None
    _forward_noise_kernel[(triton.cdiv(total, BLOCK),)](y, gamma, y if hashed else uniform, out, total, C, H, W, GC,
                                                        seed, dither_frame, HASHED=hashed, BLOCK=BLOCK)
    return out
