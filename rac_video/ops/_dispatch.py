"""Backend dispatch for rac_video ops.

Every op has a plain-PyTorch reference (backend ``torch``, the ground truth) and optional
``cpu`` (C++/OpenMP, rac_video._C), ``cuda`` (rac_video._C_cuda) and ``triton`` (kernels/)
implementations. Per call, the device of the op's tensors picks the preference order

    cpu tensors:  cpu -> torch -> triton     (Triton on CPU only via TRITON_INTERPRET=1, slow)
    cuda tensors: cuda -> triton -> torch

and the first available backend runs. A backend can be forced, strongest first, by
``op(..., backend="cpu")``, by ``with use_backend("cpu"):`` (all ops) or
``use_backend(quantize="cpu")`` (one op), by ``RAC_VIDEO_BACKEND_<OP>=cpu`` or by
``RAC_VIDEO_BACKEND=cpu``. Forcing an unavailable backend raises :class:`BackendUnavailable`
listing every backend's reason; falling back logs (once) why the better ones were skipped.
"""
from __future__ import annotations

import contextlib
import contextvars
import logging
import os
from typing import Callable

import torch

from .. import _native
from ..errors import BackendError

log = logging.getLogger("rac_video.ops")

BACKENDS = ("torch", "cpu", "cuda", "triton")
PREFERENCE = {"cpu": ("cpu", "torch", "triton"), "cuda": ("cuda", "triton", "torch")}

_forced: contextvars.ContextVar[dict] = contextvars.ContextVar("rac_video_forced_backend", default={})
_OPS: dict[str, "Op"] = {}


class BackendUnavailable(BackendError):
    pass


@contextlib.contextmanager
def use_backend(backend: str | None = None, **per_op: str):
    """Force ``backend`` for every op (and/or ``op_name=backend`` for single ops) in this block."""
    for b in ([backend] if backend else []) + list(per_op.values()):
        if b not in BACKENDS:
            raise ValueError(f"unknown backend {b!r}; choose from {BACKENDS}")
    new = dict(_forced.get())
    if backend:
        new["*"] = backend
    new.update(per_op)
    token = _forced.set(new)
    try:
        yield
    finally:
        _forced.reset(token)


def _triton_reason(device: torch.device) -> str:
    try:
        import triton  # noqa: F401
    except ImportError as exc:
        return f"triton not importable ({exc})"
    if device.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":
        return "tensors are on the CPU and TRITON_INTERPRET=1 is not set (Triton has no CPU driver)"
    if device.type == "cuda" and not torch.cuda.is_available():
        return "torch sees no CUDA device"
    if device.type == "cuda" and os.environ.get("TRITON_INTERPRET") == "1":
        return "TRITON_INTERPRET=1 is set, which runs Triton on the CPU only"
    return ""


def backend_reason(backend: str, device: torch.device) -> str:
    """'' if ``backend`` can run on ``device`` in this process, otherwise why not."""
    device = torch.device(device)
    if backend == "torch":
        return ""
    if backend == "cpu":
        if device.type != "cpu":
            return f"tensors are on {device.type}, the C++ backend takes CPU tensors"
        return _native.cpu_module()[1]
    if backend == "cuda":
        if device.type != "cuda":
            return f"tensors are on {device.type}, not cuda"
        return _native.cuda_runtime()[1]
    if backend == "triton":
        return _triton_reason(device)
    return f"unknown backend {backend!r}"


class Op:
    """One op: a reference plus registered backend implementations sharing its signature."""

    def __init__(self, name: str, reference: Callable, device_of: Callable | None = None):
        self.name = name
        self.impls: dict[str, Callable] = {"torch": reference}
        self.reference = reference
        self._device_of = device_of or _first_tensor_device
        self.last_backend: str | None = None
        self._logged: set = set()
        # the torch.library entry (ops/_library.py) that a torch.compile trace calls instead of the Python dispatch
        self.library_call: Callable | None = None
        self.__doc__ = reference.__doc__
        _OPS[name] = self

    def register(self, backend: str):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}")

        def deco(fn):
            self.impls[backend] = fn
            return fn

        return deco

    def reasons(self, device) -> dict[str, str]:
        """backend -> '' (available) or the reason it cannot run this op on ``device``."""
        device = torch.device(device)
        out = {}
        for b in BACKENDS:
            out[b] = (f"{self.name} has no {b} implementation" if b not in self.impls
                      else backend_reason(b, device))
        return out

    def _forced_backend(self, explicit: str | None) -> str | None:
        if explicit:
            return explicit
        ctx = _forced.get()
        if self.name in ctx:
            return ctx[self.name]
        env = os.environ.get(f"RAC_VIDEO_BACKEND_{self.name.upper()}") or os.environ.get("RAC_VIDEO_BACKEND")
        return env or ctx.get("*")

    def select(self, device, backend: str | None = None) -> str:
        device = torch.device(device)
        forced = self._forced_backend(backend)
        reasons = self.reasons(device)
        if forced:
            if forced not in BACKENDS:
                raise ValueError(f"unknown backend {forced!r}; choose from {BACKENDS}")
            if reasons[forced]:
                detail = "; ".join(f"{b}: {r or 'available'}" for b, r in reasons.items())
                raise BackendUnavailable(f"{self.name}: backend {forced!r} is unavailable on {device} — {detail}")
            return forced
        skipped = []
        for b in PREFERENCE.get(device.type, ("torch",)):
            if not reasons[b]:
                if skipped and (device.type, b) not in self._logged:
                    self._logged.add((device.type, b))
                    log.info("%s on %s: using %s; skipped %s", self.name, device, b,
                             "; ".join(f"{s} ({reasons[s]})" for s in skipped))
                return b
            skipped.append(b)
        return "torch"

    def __call__(self, *args, backend: str | None = None, **kwargs):
        if self.library_call is not None and torch.compiler.is_compiling():
            # traced as one opaque torch.ops.rac_video op; a forced backend is resolved now, at trace time
            return self.library_call(*args, backend=backend or _forced_at_trace(self), **kwargs)
        chosen = self.select(self._device_of(args, kwargs), backend)
        self.last_backend = chosen
        return self.impls[chosen](*args, **kwargs)

    def __repr__(self):
        return f"<rac_video op {self.name}: {sorted(self.impls)}>"


@torch.compiler.assume_constant_result
def _forced_at_trace(op: "Op") -> str:
    """The backend forced by context or environment ('' if none), read once while torch.compile traces."""
    return op._forced_backend(None) or ""


def _first_tensor_device(args, kwargs) -> torch.device:
    if "device" in kwargs and kwargs["device"] is not None:
        return torch.device(kwargs["device"])
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, torch.Tensor):
            return a.device
    return torch.device("cpu")


def registered_ops() -> dict[str, Op]:
    return dict(_OPS)
