"""Elementwise DDIM step (η = 0), Triton backend; VP schedule math of csrc/vp_schedule.h.

``exp_f32`` / ``alpha_sigma`` / ``ddim_coefficients`` mirror the C++/CUDA helpers (Cody–Waite exp,
IEEE ``sqrt_rn`` / ``div_rn``), so the result does not depend on Triton's approximate ``tl.exp``.
"""
import triton
import triton.language as tl

from . import block_size


@triton.jit
def exp_f32(x):
    """exp(x) within ~2 ulp for x in [-87, 88]; the power of two saturates outside."""
    n = (x * 1.44269504088896341 + 12582912.0) - 12582912.0
    r = x - n * 0.693145751953125
    r = r - n * 1.428606765330187e-06
    p = r * 1.98412698e-4 + 1.38888889e-3
    p = p * r + 8.33333333e-3
    p = p * r + 4.16666667e-2
    p = p * r + 1.66666667e-1
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    e = tl.minimum(tl.maximum(n.to(tl.int32) + 127, 1), 254)
    return p * (e << 23).to(tl.float32, bitcast=True)


@triton.jit
def alpha_sigma(gamma):
    """(α, σ) = (sqrt(sigmoid(γ)), sqrt(sigmoid(−γ))) as 1/sqrt(1+h²), h/sqrt(1+h²), h = exp(−γ/2)."""
    h = exp_f32(-0.5 * gamma)
    inv = tl.div_rn(tl.full(h.shape, 1.0, tl.float32), tl.sqrt_rn(1.0 + h * h))
    return inv, h * inv


@triton.jit
def ddim_coefficients(gamma_from, gamma_to):
    """(A, B) of z' = A·z + B·ε: A = α_to/α_from, B = σ_to − A·σ_from."""
    hf = exp_f32(-0.5 * gamma_from)
    ht = exp_f32(-0.5 * gamma_to)
    rt = tl.sqrt_rn(1.0 + ht * ht)
    return tl.div_rn(tl.sqrt_rn(1.0 + hf * hf), rt), tl.div_rn(ht - hf, rt)


@triton.jit
def map_offsets(offs, C, HW, MC):
    """Offsets into an (N, MC, H, W) side map (MC = 1 or C) of flat offsets into (N, C, H, W)."""
    nc = offs // HW
    c = nc % C
    n = nc // C
    return (n * MC + tl.where(MC == 1, 0, c)) * HW + offs % HW


@triton.jit
def _ddim_step_kernel(z_ptr, eps_ptr, gf_ptr, gt_ptr, out_ptr, total, C, HW, GF, GT, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < total
    z = tl.load(z_ptr + offs, mask=mask, other=0.0)
    eps = tl.load(eps_ptr + offs, mask=mask, other=0.0)
    gf = tl.load(gf_ptr + map_offsets(offs, C, HW, GF), mask=mask, other=0.0)
    gt = tl.load(gt_ptr + map_offsets(offs, C, HW, GT), mask=mask, other=0.0)
    a, b = ddim_coefficients(gf, gt)
    tl.store(out_ptr + offs, a * z + b * eps, mask=mask)


def ddim_step(z, eps, gamma_from, gamma_to, out, N, C, H, W, GF, GT):
    total = N * C * H * W
    if total == 0:
        return out
    BLOCK = block_size(1024)
    _ddim_step_kernel[(triton.cdiv(total, BLOCK),)](z, eps, gamma_from, gamma_to, out, total, C, H * W, GF, GT,
                                                    BLOCK=BLOCK)
    return out
