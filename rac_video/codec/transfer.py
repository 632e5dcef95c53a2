"""Host↔device transfers and the decoder's side stream: what the codec needs to keep a GPU busy.

* :func:`upload` / :func:`download` move a frame between a numpy array and the codec's device. On a CPU they
  are views (no copy). On CUDA they go through page-locked (pinned) staging buffers, a small ring per
  thread, shape and dtype, so the copy is a DMA transfer that can run while other work is queued
  (``non_blocking``); a slot is reused only after the event recorded behind its last copy has completed.
* :class:`SideStream` runs the entropy half of a decode (integer networks, rANS on CPU threads) on its own
  CUDA stream in the decoder's reader thread, while the main thread's stream runs the pixel networks of the
  frame before (``pipeline.decode_video``). :meth:`SideStream.run` waits for its own stream before it
  returns, and :func:`hand_over` marks every CUDA tensor of the result as used by the receiving stream
  (``Tensor.record_stream``) so the caching allocator does not give its memory to the side stream's next
  frame while the main stream still reads it. On a CPU both are plain calls.

Nothing here changes a value: the bytes moved are the bytes computed (tests/test_transfer.py).
"""
from __future__ import annotations

import dataclasses
import threading
from contextlib import nullcontext

import numpy as np
import torch

__all__ = ["upload", "download", "SideStream", "hand_over", "RING_SLOTS"]

#: pinned staging buffers per (thread, direction, shape, dtype): two let one copy run while the next is staged
RING_SLOTS = 2

_local = threading.local()


class _Ring:
    """``RING_SLOTS`` pinned host buffers of one shape and dtype, each with the event of its last copy."""

    def __init__(self, shape, dtype: torch.dtype):
        self.slots = [torch.empty(shape, dtype=dtype, pin_memory=True) for _ in range(RING_SLOTS)]
        self.events: list = [None] * RING_SLOTS
        self.next = 0

    def take(self) -> tuple[int, torch.Tensor]:
        i = self.next
        self.next = (i + 1) % RING_SLOTS
        if self.events[i] is not None:
            self.events[i].synchronize()      # the slot's previous copy has finished with it
        return i, self.slots[i]

    def done(self, i: int, stream) -> torch.cuda.Event:
        ev = torch.cuda.Event()
        ev.record(stream)
        self.events[i] = ev
        return ev


def _ring(direction: str, shape, dtype) -> _Ring:
    rings = getattr(_local, "rings", None)
    if rings is None:
        rings = _local.rings = {}
    key = (direction, tuple(shape), dtype)
    if key not in rings:
        if len(rings) >= 16:       # frame sizes change rarely; never hold more than a few rings per thread
            rings.clear()
        rings[key] = _Ring(shape, dtype)
    return rings[key]


def upload(a: np.ndarray, device) -> torch.Tensor:
    """A numpy array as a tensor on ``device``, same dtype and values (CPU: a view when ``a`` is writeable and
    C-contiguous, else a copy; CUDA: through a pinned staging buffer, asynchronous on the current stream)."""
    device = torch.device(device)
    a = np.asarray(a)
    if device.type != "cuda":
        return torch.from_numpy(a if a.flags.writeable and a.flags.c_contiguous else a.copy()).to(device)
    ring = _ring("up", a.shape, torch.from_numpy(np.empty(0, a.dtype)).dtype)
    i, slot = ring.take()
    slot.numpy()[...] = a
    stream = torch.cuda.current_stream(device)
    out = slot.to(device, non_blocking=True)
    ring.done(i, stream)
    return out


def download(t: torch.Tensor) -> np.ndarray:
    """A tensor's values as a numpy array the caller owns (CUDA: through a pinned buffer; the call waits for
    the copy, not for the device's other streams)."""
    if t.device.type != "cuda":
        return t.detach().cpu().numpy()
    t = t.detach().contiguous()
    ring = _ring("down", t.shape, t.dtype)
    i, slot = ring.take()
    slot.copy_(t, non_blocking=True)
    ring.done(i, torch.cuda.current_stream(t.device)).synchronize()
    return slot.numpy().copy()


def _tensors(obj, depth: int = 0):
    """The tensors in a result of the entropy half (tuples, lists, dicts, dataclasses, NamedTuples)."""
    if depth > 4 or obj is None:
        return
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            yield from _tensors(o, depth + 1)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o, depth + 1)
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _tensors(getattr(obj, f.name), depth + 1)


def hand_over(obj, device=None):
    """Mark the CUDA tensors in ``obj`` as used by the current stream of this thread (see the module
    docstring); returns ``obj``. A no-op for CPU tensors."""
    for t in _tensors(obj):
        if t.device.type == "cuda":
            t.record_stream(torch.cuda.current_stream(t.device))
    return obj


class SideStream:
    """A CUDA stream of its own for work done in another thread (the entropy half of a decode); on a CPU,
    or with ``enabled=False``, :meth:`run` is a plain call."""

    def __init__(self, device, *, enabled: bool = True):
        device = torch.device(device)
        self.stream = torch.cuda.Stream(device) if (enabled and device.type == "cuda") else None

    def run(self, fn, *args, **kw):
        """``fn(*args, **kw)`` with this stream current; returns once the stream has finished its work."""
        ctx = torch.cuda.stream(self.stream) if self.stream is not None else nullcontext()
        with ctx:
            out = fn(*args, **kw)
        if self.stream is not None:
            self.stream.synchronize()
        return out
