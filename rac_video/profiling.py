"""Where a pipeline's time goes: named stages timed on every thread.

The codec and the pipeline mark their stages with ``stage("analysis")`` and so on (the names in
:data:`STAGES`). Outside :func:`collect` a mark costs one global read (plus a ``torch.profiler``
label while torch's profiler is recording, so stages show up in its traces too). Inside it, each
stage's wall time is added up per thread: ``torch.profiler`` only sees the thread that started it,
and the pipeline reads, computes importance maps and writes on threads of its own.

    with profiling.collect() as times:
        pipeline.encode_video(...)
    times.table(frames)      # [{"stage", "thread", "ms_per_frame", "calls"}, ...]

Marks may nest: time is charged to the innermost stage only (an outer stage's figure is its own time,
"self time"), so on one thread the stages never add up to more than its wall time.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict

import torch

#: the stages in pipeline order (encode: read … write; decode: read … write)
STAGES = ("read", "importance", "analysis", "refine", "motion", "hyperprior+context", "entropy coding", "denoise",
          "synthesis", "write")

_active: "StageTimes | None" = None
_lock = threading.Lock()
_tls = threading.local()       # per thread: the stack of open stages, [name, time charged from]


class StageTimes:
    """Seconds and calls per (stage, thread name); thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.seconds: dict[tuple[str, str], float] = defaultdict(float)
        self.calls: dict[tuple[str, str], int] = defaultdict(int)

    def add(self, name: str, thread: str, seconds: float, calls: int = 1) -> None:
        with self._lock:
            self.seconds[name, thread] += seconds
            self.calls[name, thread] += calls

    def table(self, frames: int) -> list[dict]:
        """One row per (stage, thread) in :data:`STAGES` order: milliseconds per frame and calls."""
        order = {n: i for i, n in enumerate(STAGES)}
        keys = sorted(self.seconds, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
        return [{"stage": n, "thread": t, "ms_per_frame": 1e3 * self.seconds[n, t] / max(frames, 1),
                 "calls": self.calls[n, t]} for n, t in keys]


@contextlib.contextmanager
def collect():
    """Time every stage marked while inside (one collection at a time; nested calls share it)."""
    global _active
    with _lock:
        outer = _active
        times = outer or StageTimes()
        _active = times
    try:
        yield times
    finally:
        with _lock:
            _active = outer


@contextlib.contextmanager
def stage(name: str):
    """Mark the enclosed code as the stage ``name`` (one of :data:`STAGES`)."""
    times = _active
    label = (torch.profiler.record_function(f"rac.{name}") if torch.autograd._profiler_enabled()
             else contextlib.nullcontext())
    if times is None:
        with label:
            yield
        return
    thread = threading.current_thread().name
    stack = getattr(_tls, "stack", None)
    if stack is None:
        stack = _tls.stack = []
    now = time.perf_counter()
    if stack:                                   # pause the enclosing stage
        outer = stack[-1]
        times.add(outer[0], thread, now - outer[1], calls=0)
    stack.append([name, now])
    try:
        with label:
            yield
    finally:
        now = time.perf_counter()
        _, t0 = stack.pop()
        times.add(name, thread, now - t0)
        if stack:                               # resume it
            stack[-1][1] = now


def staged(iterable, name: str):
    """Iterate ``iterable`` with each ``next`` marked as the stage ``name`` (a reader's decoding, say)."""
    it = iter(iterable)
    while True:
        with stage(name):
            try:
                item = next(it)
            except StopIteration:
                return
        yield item
