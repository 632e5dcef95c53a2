"""Argument checks shared by the native wrappers: clear errors instead of bad memory accesses."""
from __future__ import annotations

import contextlib
import contextvars
import math
import os
import weakref

import torch


def canonical_device(device) -> torch.device:
    """``device`` as a ``torch.device`` that compares equal to the ``.device`` of a tensor living there.

    A tensor always reports an indexed CUDA device (``cuda:0``) while callers write ``"cuda"`` (torch's
    *current* device) — and ``torch.device("cuda") != torch.device("cuda:0")``. CUDA without an index
    becomes ``cuda:<current device>``; the CPU never carries an index (``cpu:0`` → ``cpu``).
    """
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    if device.type == "cpu" and device.index is not None:
        return torch.device("cpu")
    return device


def same_device(a, b) -> bool:
    """Whether devices (or device strings) ``a`` and ``b`` name the same device (``cuda`` = ``cuda:0``
    when device 0 is current)."""
    a, b = torch.device(a), torch.device(b)
    if a.type != b.type:
        return False
    return a.index == b.index or canonical_device(a) == canonical_device(b)


def tensor(t, name: str, dtypes, device: torch.device | None = None) -> torch.Tensor:
    """Check type, dtype and device of ``t``; return it contiguous (copying if it was strided)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    dtypes = (dtypes,) if isinstance(dtypes, torch.dtype) else tuple(dtypes)
    if t.dtype not in dtypes:
        raise TypeError(f"{name} must have dtype {' or '.join(map(str, dtypes))}, got {t.dtype}")
    if device is not None and not same_device(t.device, device):
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


def nonnegative(value, name: str) -> float:
    """``value`` as a finite float ≥ 0 (a codec strength or constant; 0 means off), else a clear error."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0 (0: off), got {value!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name} must be finite and >= 0 (0: off), got {value!r}")
    return v


def cuda_stream(device: torch.device) -> tuple[int, int]:
    """(device index, raw stream handle) of torch's current stream on ``device``."""
    index = device.index if device.index is not None else torch.cuda.current_device()
    return index, torch.cuda.current_stream(index).cuda_stream


def output(out, shape, dtype: torch.dtype, device, name: str = "out") -> torch.Tensor:
    """A fresh output tensor, or ``out`` checked to be contiguous with that shape, dtype and device."""
    shape, device = tuple(shape), torch.device(device)
    if out is None:
        return torch.empty(shape, dtype=dtype, device=device)
    if not isinstance(out, torch.Tensor) or out.dtype != dtype or tuple(out.shape) != shape \
            or not out.is_contiguous() or not same_device(out.device, device):
        got = (f"{'' if out.is_contiguous() else 'non-contiguous '}{out.dtype} {tuple(out.shape)} on {out.device}"
               if isinstance(out, torch.Tensor) else type(out).__name__)
        raise ValueError(f"{name} must be a contiguous {dtype} tensor of shape {shape} on {device}, got {got}")
    return out


def side_map(t, name: str, dtypes, x: torch.Tensor, x_name: str) -> torch.Tensor:
    """A per-pixel map for the (N,C,H,W) tensor ``x``: (N,1,H,W) (broadcast over channels) or (N,C,H,W)."""
    t = tensor(t, name, dtypes, x.device)
    if t.dim() != 4 or t.shape[0] != x.shape[0] or t.shape[2:] != x.shape[2:] or t.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"{name} must be (N,1,H,W) or (N,C,H,W) matching {x_name} {tuple(x.shape)}, "
                         f"got {tuple(t.shape)}")
    return t


# ---- value checks (reading tensor *values*) stay off the hot path --------------------------------------
#
# The per-call checks above read only metadata (dtype, shape, device). Checks that read values — level
# ranges, Δ finite and positive — cost a pass over the data and, on CUDA, a device sync. They run:
#   * for a delta table: once per table tensor (cached by object and version counter, ``delta_table_values``);
#   * for a level map: only in debug mode (``RAC_VIDEO_CHECK_VALUES=1`` or ``with ops.debug_checks():``).
#     Without it the C++ backend still raises on out-of-range levels (it counts them in the gather it
#     runs anyway, after computing with clamped indices), and the CUDA/Triton kernels clamp the index
#     (never an out-of-bounds read; the result for such elements uses the nearest level).

_debug: contextvars.ContextVar[bool | None] = contextvars.ContextVar("rac_video_check_values", default=None)


def values_checked() -> bool:
    """Whether value checks run on every call (debug mode)."""
    on = _debug.get()
    return on if on is not None else os.environ.get("RAC_VIDEO_CHECK_VALUES", "") not in ("", "0")


@contextlib.contextmanager
def debug_checks(on: bool = True):
    """Run the value checks (level range, Δ finite/positive) on every op call in this block."""
    token = _debug.set(bool(on))
    try:
        yield
    finally:
        _debug.reset(token)


_validated: dict[int, tuple] = {}


def delta_table_values(delta: torch.Tensor) -> None:
    """Raise unless every Δ is finite and > 0. Cached per tensor object and version, so a table built once
    (``schedule.level_table``) is read once (one device sync on CUDA), not on every quantize call."""
    key = id(delta)
    try:
        version = delta._version
    except RuntimeError:  # an inference-mode tensor has no version counter: check it every time
        version = None
    hit = _validated.get(key)
    if hit is not None and version is not None and hit[0]() is delta and hit[1] == version and not values_checked():
        return
    if not bool(torch.isfinite(delta).all()) or not bool((delta > 0).all()):
        raise ValueError("delta_table must be finite and positive")
    if version is None:
        return
    try:
        ref = weakref.ref(delta, lambda _r, key=key: _validated.pop(key, None))
    except TypeError:  # not weak-referenceable: check every time
        return
    if len(_validated) > 4096:
        _validated.clear()
    _validated[key] = (ref, version)


def level_values(level: torch.Tensor, levels: int) -> None:
    """Raise unless 0 <= level < levels (a pass over the map: debug mode and references only)."""
    if level.numel() and (int(level.min()) < 0 or int(level.max()) >= levels):
        raise ValueError(f"level values must be in 0..{levels - 1}, got {int(level.min())}..{int(level.max())}")
