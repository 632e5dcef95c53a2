"""Argument checks shared by the native wrappers: clear errors instead of bad memory accesses."""
from __future__ import annotations

import torch


def tensor(t, name: str, dtypes, device: torch.device | None = None) -> torch.Tensor:
    """Check type, dtype and device of ``t``; return it contiguous (copying if it was strided)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    dtypes = (dtypes,) if isinstance(dtypes, torch.dtype) else tuple(dtypes)
    if t.dtype not in dtypes:
        raise TypeError(f"{name} must have dtype {' or '.join(map(str, dtypes))}, got {t.dtype}")
    if device is not None and t.device != torch.device(device):
        raise ValueError(f"{name} is on {t.device} but the other inputs are on {device}")
    return t.contiguous()


def same_shape(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_b} has shape {tuple(b.shape)} but {name_a} has shape {tuple(a.shape)}")


def shape_nchw(shape) -> tuple[int, int, int, int]:
    """Accept (C,H,W) or (N,C,H,W) with non-negative ints; return (N,C,H,W)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (3, 4):
        raise ValueError(f"expected a (C,H,W) or (N,C,H,W) shape, got {shape}")
    if any(s < 0 for s in shape):
        raise ValueError(f"negative size in shape {shape}")
    return shape if len(shape) == 4 else (1, *shape)


def uint32(value: int, name: str) -> int:
    value = int(value)
    if not 0 <= value < 2**32:
        raise ValueError(f"{name} must be in [0, 2^32), got {value}")
    return value


def cuda_stream(device: torch.device) -> tuple[int, int]:
    """(device index, raw stream handle) of torch's current stream on ``device``."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    return index, torch.cuda.current_stream(index).cuda_stream
