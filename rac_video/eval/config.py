"""Eval configs: reading and resolving them (``rac-video eval``), and the environment a run records.

Config (TOML or JSON; see tools/eval_configs/*.toml)::

    name = "basketballpass_gaze"
    methods = ["ours", "ours-uniform", "x264-roi", "x264", "x265-roi", "svtav1", "jpeg"]  # + "ours-realism"
    reference = "ours"          # BD-rates: every method vs this one (falls back to fallback_reference)
    fallback_reference = "x264-roi"
    roi_threshold = 0.5         # importance >= threshold is "inside" for ROI metrics (a sequence may override)
    tolerance = 0.02            # bitrate matching tolerance
    fvvdp = true                # FovVideoVDP when pyfvvdp is installed
    [rates]
    qualities = [3, 7, 11, 15]  # our codec's qualities (0..Q_MAX): their sizes are the targets of every baseline
    bpp = [0.05, 0.1, 0.2, 0.4] # targets when our codec is absent (or not in methods)
    anchor_extra = [0.5, 0.25]  # optional: baselines also at 0.5x / 0.25x the smallest target (x2: the largest)
    [realism]
    rho = 1.0                   # ours-realism: the same bitstreams as ours, decoded with realism ρ
    metrics = true              # patch SWD / HF ratio / block colour per region (rac_video.eval.realism)
    [baseline]
    preset = "medium"
    roi_strength = 12
    [[sequence]]
    name = "BasketballPass"
    frames = "/path/to/frames"   # folder of images or a video file
    fps = 50
    count = 24
    stride = 2
    importance = { type = "gaze", trace = "/path/to/AAF_beach.coord" }

The matching loop that runs a config is :func:`rac_video.eval.run.run_config`.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import numpy as np

__all__ = ["EvalConfigError", "load_config", "data_root", "default_qualities", "environment"]


class EvalConfigError(ValueError):
    """An eval config that cannot be run as written."""


def load_config(path) -> dict:
    with open(path, "rb") as f:
        raw = f.read()
    if str(path).endswith(".json"):
        cfg = json.loads(raw)
    else:
        import tomllib

        cfg = tomllib.loads(raw.decode())
    cfg.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    base = os.path.dirname(os.path.abspath(path))
    cfg["_config_path"] = os.path.abspath(path)
    for s in cfg.get("sequence", []):
        for key in ("frames",):
            s[key] = _resolve(s[key], base)
        imp = s.get("importance", {})
        for key in ("dir", "trace"):
            if key in imp:
                imp[key] = _resolve(imp[key], base)
    return cfg


def data_root() -> str:
    """The shared data folder: $RAC_VIDEO_DATA, else <repository>/../shared/data."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.normpath(os.environ.get("RAC_VIDEO_DATA", os.path.join(repo, "..", "shared", "data")))


def _resolve(p, base):
    p = p.replace("{data}", data_root())
    p = os.path.expandvars(os.path.expanduser(p))
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))


def _git_rev():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        rev = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (rev + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    import av
    import torch

    env = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
           "torch": torch.__version__, "pyav": av.__version__, "numpy": np.__version__, "git": _git_rev()}
    try:
        from importlib.metadata import version

        env["pyfvvdp"] = version("pyfvvdp")
    except Exception:  # noqa: BLE001 - optional extra
        env["pyfvvdp"] = None
    return env


def default_qualities(n=4) -> list:
    """n qualities of our codec spread evenly over 0..Q_MAX (rac_video.schedule), the top one included."""
    from .. import schedule

    qmax = int(schedule.Q_MAX)
    return sorted({round(qmax * (k + 1) / n) for k in range(n)})
