"""The embedded default for ``rac-video demo``: a short clip and a gaze trace, made on the spot.

The clip is a slow pan-and-zoom over ``grace_hopper.jpg``, the public-domain portrait that
matplotlib ships as sample data (US Navy photograph); nothing is downloaded and nothing is
copied into this repository. The gaze trace is synthetic but shaped like real viewing: 250 Hz
samples, fixations of 250–600 ms on the face, the insignia and the background, fast saccades
(~30 ms) between them, small fixational jitter, and one short blink (invalid samples). It is
written as the generic CSV gaze format, so the demo goes through the same reader, gaze filter
and foveation model as a real eye-tracking recording.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["make_clip", "make_gaze_trace", "demo_display", "DEMO_SIZE", "DEMO_FRAMES", "DEMO_FPS"]

DEMO_SIZE = (240, 320)   # (H, W)
DEMO_FRAMES = 36
DEMO_FPS = 24


def demo_display(size=DEMO_SIZE):
    """The clip shown at 1:1 pixels in a window of a 27-inch 2560×1440 monitor (0.597 m wide) viewed
    from 0.6 m: ~44 pixels per degree, so the 320×240 clip spans ~7°×5° and the periphery of the
    frame is really outside the fovea (a frame *fitted* to a big screen would be blurry everywhere,
    and foveation would rightly find nothing to drop)."""
    from .importance.foveation import Display

    H, W = size
    return Display(width_m=0.597 * W / 2560, width_px=W, height_px=H, distance_m=0.6)


def _portrait() -> np.ndarray:
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
        return np.asarray(im.convert("RGB"))


def make_clip(folder, *, frames: int = DEMO_FRAMES, size=DEMO_SIZE) -> list[str]:
    """Write ``frames`` PNG frames of a pan/zoom over the portrait into ``folder``; return the paths."""
    from PIL import Image

    src = Image.fromarray(_portrait())
    H, W = size
    sw, sh = src.size
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i in range(frames):
        s = i / max(frames - 1, 1)
        zoom = 1.0 - 0.25 * s                           # crop shrinks: a slow zoom in
        cw = sw * zoom
        ch = cw * H / W
        cx = sw * (0.5 + 0.04 * np.sin(2 * np.pi * s))  # gentle pan
        cy = sh * (0.42 - 0.08 * s)
        box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
        frame = src.transform((W, H), Image.Transform.EXTENT, box, resample=Image.Resampling.BICUBIC)
        p = os.path.join(folder, f"frame_{i:04d}.png")
        frame.save(p)
        paths.append(p)
    return paths


def make_gaze_trace(path, *, seconds: float, size=DEMO_SIZE, seed: int = 7, rate_hz: float = 250.0) -> str:
    """Write a synthetic 250 Hz gaze trace (generic CSV: t, x, y, valid; frame pixels) to ``path``."""
    rng = np.random.default_rng(seed)
    H, W = size
    targets = np.array([[0.50, 0.40], [0.45, 0.30], [0.55, 0.72], [0.20, 0.25], [0.50, 0.42], [0.80, 0.60]])
    t_all = np.arange(0.0, seconds, 1.0 / rate_hz)
    x = np.empty_like(t_all)
    y = np.empty_like(t_all)
    valid = np.ones_like(t_all, dtype=int)
    pos = targets[0] * (W, H)
    i, k = 0, 0
    while i < len(t_all):
        fix = int(rng.uniform(0.25, 0.6) * rate_hz)
        for j in range(i, min(i + fix, len(t_all))):     # fixation with ~0.1° jitter
            x[j], y[j] = pos + rng.normal(0, 0.8, 2)
        i += fix
        k = (k + 1) % len(targets)
        nxt = targets[k] * (W, H) + rng.normal(0, 3, 2)
        sac = int(0.03 * rate_hz)
        for s, j in enumerate(range(i, min(i + sac, len(t_all)))):   # saccade: smooth fast ramp
            a = 0.5 - 0.5 * np.cos(np.pi * (s + 1) / sac)
            x[j], y[j] = pos + a * (nxt - pos)
        i += sac
        pos = nxt
    blink = (t_all > seconds * 0.55) & (t_all < seconds * 0.55 + 0.12)
    valid[blink] = 0
    x, y = np.clip(x, 0, W - 1), np.clip(y, 0, H - 1)
    with open(path, "w") as f:
        f.write("# synthetic gaze for the rac-video demo clip (frame pixels, top-left origin)\n")
        f.write("t,x,y,valid\n")
        for row in zip(t_all, x, y, valid):
            f.write(f"{row[0]:.4f},{row[1]:.2f},{row[2]:.2f},{row[3]}\n")
    return path
