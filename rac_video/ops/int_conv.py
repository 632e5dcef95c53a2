"""Integer 2-D convolution: the arithmetic of the integer entropy networks (rac_video.entropy.intnet).

    acc[n, o, i, j] = bias[o] + Σ_{c, a, b} w[o, c, a, b] · x[n, c, s·i + a − p, s·j + b − p]     (int32)

with an optional epilogue (the requantization and nonlinearity of an integer network layer):

    mult given:         q = (acc·mult[o] + 2^(shift−1)) >> shift      (int64 math, saturated to int32;
                        the caller keeps |acc·mult| < 2^63)
    mult and lut given: out = lut[clamp(q, −P, P − 1) + P]            (int8; lut has 2P entries)

``x`` int8 or int16 (N, I, H, W), zero outside the frame; ``w`` int8 (O, I, k, k); ``bias`` int32
(O,); stride s and zero padding p. Every backend returns the exact integer sum: integer
addition is associative, so the result does not depend on the order of the sum, the thread
count, the instruction set or the device — which is what lets both ends of a bitstream
compute the same (μ, s). The caller keeps the sum inside int32 (|x| · 127 · I·k² + |bias| <
2^31; :data:`ACC_LIMIT` — the integer networks check it once when they are built).

Backends: ``torch`` (reference: im2col, then a float64 matrix product — every product and
partial sum is an integer below 2^53, so exact in any order), ``cpu`` (C++, int16 × int16 → int32
multiply-adds, AVX2 when the CPU has it), ``cuda`` and ``triton`` (int32 accumulation).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import _native
from . import _checks
from ._dispatch import Op

__all__ = ["int_conv2d", "int_conv2d_reference", "ACC_LIMIT"]

ACC_LIMIT = 2**31 - 1


def _check(x, weight, bias, stride, padding):
    if not isinstance(x, torch.Tensor) or x.dtype not in (torch.int8, torch.int16) or x.dim() != 4:
        raise ValueError(f"x must be an int8/int16 (N,I,H,W) tensor, got {getattr(x, 'dtype', type(x))} "
                         f"{tuple(getattr(x, 'shape', ()))}")
    w = _checks.tensor(weight, "weight", torch.int8, x.device)
    b = _checks.tensor(bias, "bias", torch.int32, x.device)
    if w.dim() != 4 or w.shape[1] != x.shape[1] or w.shape[2] != w.shape[3]:
        raise ValueError(f"weight must be (O, {x.shape[1]}, k, k), got {tuple(w.shape)}")
    if b.shape != (w.shape[0],):
        raise ValueError(f"bias must have shape ({w.shape[0]},), got {tuple(b.shape)}")
    for v, name in ((stride, "stride"), (padding, "padding")):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 16:
            raise ValueError(f"{name} must be an int in 0..16, got {v!r}")
    if stride < 1:
        raise ValueError("stride must be >= 1")
    k = w.shape[2]
    Ho, Wo = (x.shape[2] + 2 * padding - k) // stride + 1, (x.shape[3] + 2 * padding - k) // stride + 1
    if Ho < 1 or Wo < 1:
        raise ValueError(f"input {tuple(x.shape[2:])} is smaller than the kernel {k} with padding {padding}")
    return x.contiguous(), w, b, k, Ho, Wo


def _check_epilogue(mult, shift, lut, out_channels, device):
    if mult is None:
        if lut is not None:
            raise ValueError("an activation table needs multipliers (mult)")
        return None, 0, None, 0
    mult = _checks.tensor(mult, "mult", torch.int64, device)
    if mult.shape != (out_channels,):
        raise ValueError(f"mult must have shape ({out_channels},), got {tuple(mult.shape)}")
    if isinstance(shift, bool) or not isinstance(shift, int) or not 1 <= shift <= 62:
        raise ValueError(f"shift must be an int in 1..62, got {shift!r}")
    if lut is None:
        return mult, shift, None, 0
    lut = _checks.tensor(lut, "lut", torch.int8, device)
    if lut.dim() != 1 or lut.numel() < 2 or lut.numel() % 2:
        raise ValueError(f"lut must be a 1-D int8 table of even length 2P, got {tuple(lut.shape)}")
    return mult, shift, lut, lut.numel() // 2


def epilogue_reference(acc: torch.Tensor, mult, shift: int, lut):
    """The epilogue on int32 sums (int64 arithmetic; arithmetic right shift = floor)."""
    if mult is None:
        return acc
    q = (acc.to(torch.int64) * mult.view(1, -1, 1, 1) + (1 << (shift - 1))) >> shift
    if lut is None:
        return q.clamp(-2**31, 2**31 - 1).to(torch.int32)
    P = lut.numel() // 2
    return lut[q.clamp(-P, P - 1) + P]


def int_conv2d_reference(x, weight, bias, stride: int = 1, padding: int = 0, *, mult=None, shift: int = 30,
                         lut=None):
    """int32 sums (N, O, Ho, Wo), or the epilogue's output; see the module docstring."""
    x, w, b, k, Ho, Wo = _check(x, weight, bias, stride, padding)
    mult, shift, lut, _ = _check_epilogue(mult, shift, lut, w.shape[0], x.device)
    N, O = x.shape[0], w.shape[0]
    cols = F.unfold(x.to(torch.float64), k, padding=padding, stride=stride)          # (N, I·k², L)
    acc = torch.matmul(w.reshape(O, -1).to(torch.float64), cols) + b.to(torch.float64).view(1, O, 1)
    return epilogue_reference(acc.to(torch.int64).to(torch.int32).view(N, O, Ho, Wo), mult, shift, lut)


int_conv2d = Op("int_conv2d", int_conv2d_reference)


def _native_call(which, x, weight, bias, stride=1, padding=0, *, mult=None, shift=30, lut=None):
    x, w, b, k, Ho, Wo = _check(x, weight, bias, stride, padding)
    mult, shift, lut, P = _check_epilogue(mult, shift, lut, w.shape[0], x.device)
    N, I, H, W = x.shape
    O = w.shape[0]
    out = torch.empty((N, O, Ho, Wo), dtype=torch.int8 if lut is not None else torch.int32, device=x.device)
    if which == "triton":
        from rac_video.kernels import int_conv as kic

        kic.run(x, w, b, out, stride, padding, mult, shift, lut, P)
        return out
    args = (x.data_ptr(), x.element_size(), w.data_ptr(), b.data_ptr(), out.data_ptr(), N, I, H, W, O, k, stride,
            padding, Ho, Wo, 0 if mult is None else mult.data_ptr(), shift, 0 if lut is None else lut.data_ptr(), P)
    if which == "cpu":
        _native.cpu_module()[0].int_conv2d(*args)
    else:
        _native.cuda_runtime()[0].int_conv2d(*args, *_checks.cuda_stream(x.device))
    return out


for _b in ("cpu", "cuda", "triton"):
    int_conv2d.register(_b)(lambda x, weight, bias, stride=1, padding=0, *, mult=None, shift=30, lut=None, _b=_b:
                            _native_call(_b, x, weight, bias, stride, padding, mult=mult, shift=shift, lut=lut))
