"""Integer 2-D convolution with the requantization / activation-table epilogue, Triton backend
(definition in rac_video/ops/int_conv.py).

One program computes a block of output channels × a block of output pixels of one image: a loop over
the I·k² taps accumulates int32 products of int8 weights and int8/int16 inputs (exact: integer sums
do not depend on their order), then the epilogue runs in int64.
"""
import triton
import triton.language as tl

from . import block_size


@triton.jit
def _int_conv_kernel(x_ptr, w_ptr, b_ptr, mult_ptr, lut_ptr, out_ptr, I, H, W, O, Ho, Wo, stride, pad, shift, P,
                     K: tl.constexpr, MODE: tl.constexpr, BO: tl.constexpr, BP: tl.constexpr):
    n = tl.program_id(2).to(tl.int64)
    o = tl.program_id(1) * BO + tl.arange(0, BO)
    pix = tl.program_id(0).to(tl.int64) * BP + tl.arange(0, BP)
    o_ok = o < O
    p_ok = pix < Ho * Wo
    oi = pix // Wo
    oj = pix % Wo
    acc = tl.zeros((BO, BP), dtype=tl.int32)
    for c in range(0, I):
        for a in range(0, K):
            yy = oi * stride + a - pad
            y_ok = p_ok & (yy >= 0) & (yy < H)
            for b in range(0, K):
                xx = oj * stride + b - pad
                ok = y_ok & (xx >= 0) & (xx < W)
                xv = tl.load(x_ptr + ((n * I + c) * H + yy) * W + xx, mask=ok, other=0).to(tl.int32)
                wv = tl.load(w_ptr + ((o * I + c) * K + a) * K + b, mask=o_ok, other=0).to(tl.int32)
                acc += wv[:, None] * xv[None, :]
    acc += tl.load(b_ptr + o, mask=o_ok, other=0)[:, None]
    dst = out_ptr + (n * O + o[:, None]) * (Ho * Wo) + pix[None, :]
    mask = o_ok[:, None] & p_ok[None, :]
    if MODE == 0:
        tl.store(dst, acc, mask=mask)
    else:
        m = tl.load(mult_ptr + o, mask=o_ok, other=0)
        half = tl.full((BO, BP), 1, tl.int64) << (shift - 1)
        q = (acc.to(tl.int64) * m[:, None] + half) >> shift
        if MODE == 1:
            q = tl.minimum(tl.maximum(q, -2147483648), 2147483647)
            tl.store(dst, q.to(tl.int32), mask=mask)
        else:
            q = tl.minimum(tl.maximum(q, -P), P - 1) + P
            tl.store(dst, tl.load(lut_ptr + q, mask=mask, other=0), mask=mask)


def run(x, w, b, out, stride, padding, mult, shift, lut, P):
    N, I, H, W = x.shape
    O, _, K, _ = w.shape
    Ho, Wo = out.shape[2], out.shape[3]
    if N == 0:
        return out
    mode = 0 if mult is None else (1 if lut is None else 2)
    BO = 16
    BP = min(block_size(64), 1024)
    grid = (triton.cdiv(Ho * Wo, BP), triton.cdiv(O, BO), N)
    _int_conv_kernel[grid](x, w, b, mult if mult is not None else b, lut if lut is not None else b, out,
                           I, H, W, O, Ho, Wo, stride, padding, max(int(shift), 1), int(P),
                           K=K, MODE=mode, BO=BO, BP=BP)
    return out
