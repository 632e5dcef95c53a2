"""Loading of the native modules (rac_video._C, rac_video._C_cuda), each with the reason it is missing.

Shared by ops (the kernels) and entropy (the rANS coder), so neither imports the other for it."""
from __future__ import annotations

import functools
import importlib
import json
import os
from types import ModuleType


def build_status() -> dict:
    path = os.path.join(os.path.dirname(__file__), "_build_status.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


@functools.lru_cache(maxsize=None)
def load(name: str) -> tuple[ModuleType | None, str]:
    """(module, "") or (None, why it is unavailable) for ``rac_video._C`` / ``rac_video._C_cuda``."""
    try:
        return importlib.import_module(f"rac_video.{name}"), ""
    except ImportError as exc:
        if name == "_C_cuda":
            cuda = build_status().get("cuda", {})
            if cuda and not cuda.get("built"):
                return None, f"CUDA module not built: {cuda.get('reason', 'unknown')}"
        return None, f"rac_video.{name} failed to import ({exc}); reinstall with `pip install -e .`"


def cpu_module():
    return load("_C")


@functools.lru_cache(maxsize=None)
def cuda_runtime() -> tuple[ModuleType | None, str]:
    """The CUDA module when it loaded *and* its runtime sees a GPU."""
    mod, why = load("_C_cuda")
    if mod is None:
        return None, why
    count, msg = mod.device_count()
    if count <= 0:
        return None, f"CUDA module loaded but sees no GPU ({msg or 'device count 0'})"
    return mod, ""
