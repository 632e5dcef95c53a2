"""rac_video.ops: per-element kernels with a torch reference and C++/CUDA/Triton backends.

Every module of this package is one op family (reference twin + backend registrations) and
is imported here; names listed in a module's ``__all__`` are re-exported, so adding an op
family never edits this file. See ``_dispatch`` for how a backend is chosen or forced, and
``rac-video info`` for what loaded.
"""
import importlib as _importlib
import pkgutil as _pkgutil

from ._dispatch import (BACKENDS, BackendUnavailable, Op, backend_reason, registered_ops,  # noqa: F401
                        use_backend)
from ._checks import debug_checks, values_checked  # noqa: F401

__all__ = ["BACKENDS", "BackendUnavailable", "Op", "backend_reason", "debug_checks", "registered_ops", "use_backend",
           "values_checked"]
for _m in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _m.name.startswith("_"):
        continue
    _mod = _importlib.import_module(f"{__name__}.{_m.name}")
    for _name in getattr(_mod, "__all__", ()):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)

from . import _library  # noqa: E402,F401  (torch.ops.rac_video.*: the ops as torch.library custom ops)
