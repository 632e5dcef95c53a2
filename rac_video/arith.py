"""The arithmetic a device computes the codec's networks with, as a short class name.

Decoding needs the entropy model's parameters bit-identical on both ends, and those come out of
float32 convolutions whose last bits depend on the kernels that ran them: oneDNN with AVX-512 or
AVX2, torch's native CPU convolutions, cuDNN on a given GPU generation, with or without TF32. Until
the entropy model is integer, a file decodes reliably only where its arithmetic class matches the
encoder's. The pipeline records the class in the stream header (``settings["arith"]``) and the
decoder warns, naming both classes, when its own differs.

Classes look like ``cpu-onednn-avx512``, ``cpu-native-avx2``, ``cuda-sm90-fp32``, ``cuda-sm90-tf32``.
They are coarse on purpose (no thread count, library version or cuDNN algorithm choice): equal classes
are necessary for identical results, not sufficient.
"""
from __future__ import annotations

import os
import warnings

import torch

__all__ = ["arith_class", "exact_float32", "ArithmeticMismatchWarning", "mismatch_message"]

_X86_LEVELS = ("sse41", "avx", "avx2", "avx512")


class ArithmeticMismatchWarning(UserWarning):
    """A stream is decoded with other arithmetic than it was encoded with."""


def _x86_level(name: str) -> str | None:
    n = name.strip().lower()
    if not n or n in ("all", "default"):
        return None
    if n.startswith("avx512") or n.startswith("avx10"):
        return "avx512"
    if n.startswith("avx2"):
        return "avx2"
    if n.startswith("avx"):
        return "avx"
    if n.startswith("sse4"):
        return "sse41"
    return None


def _cpu_isa() -> str:
    """torch's CPU vector ISA, capped by ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA as oneDNN caps itself."""
    cap = (torch.backends.cpu.get_cpu_capability() or "default").lower()
    level = _x86_level(cap)
    limit = _x86_level(os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "")
    if level and limit and _X86_LEVELS.index(limit) < _X86_LEVELS.index(level):
        return limit
    return level or cap


def arith_class(device) -> str:
    """The arithmetic class of the codec's networks on ``device`` in this process (see the module docstring)."""
    device = torch.device(device)
    if device.type == "cpu":
        onednn = torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
        return f"cpu-{'onednn' if onednn else 'native'}-{_cpu_isa()}"
    if device.type == "cuda":
        try:
            major, minor = torch.cuda.get_device_capability(device)
            arch = f"sm{major}{minor}"
        except Exception:  # no driver / no device: still name the kind of arithmetic
            arch = "sm?"
        tf32 = torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32
        return f"cuda-{arch}-{'tf32' if tf32 else 'fp32'}"
    return device.type


def exact_float32(device) -> None:
    """Switch TF32 off for convolutions and matmuls (process-wide torch flags) when ``device`` is CUDA.

    TF32 keeps 10 mantissa bits of the inputs: the codec's networks decide symbols, so they run in full
    float32 (torch's default for cuDNN convolutions is TF32 on)."""
    if torch.device(device).type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


def mismatch_message(encoded: str, decoding: str) -> str:
    return (f"this stream was encoded with '{encoded}' arithmetic and is decoded with '{decoding}': the entropy "
            f"model's float32 results differ between the two, so decoding may fail or give wrong frames "
            f"(known limitation until the entropy model is integer); decode it on a '{encoded}' machine")


def warn_if_mismatch(encoded: str | None, device) -> str | None:
    """Warn (``ArithmeticMismatchWarning``, to stderr) when ``encoded`` differs from this process's class on
    ``device``; return the message, or None when they match or the stream did not record one."""
    if not encoded:
        return None
    mine = arith_class(device)
    if encoded == mine:
        return None
    msg = mismatch_message(encoded, mine)
    warnings.warn(msg, ArithmeticMismatchWarning, stacklevel=3)
    return msg
