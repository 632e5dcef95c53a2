"""The embedded default for ``rac-video demo``: a short clip and a gaze trace, made on the spot,
the viewing geometry it is shown in, and the measurements the demo reports.

The clip is a slow pan-and-zoom over ``grace_hopper.jpg``, the public-domain portrait that
matplotlib ships as sample data (US Navy photograph); nothing is downloaded and nothing is
copied into this repository. The gaze trace is synthetic but shaped like real viewing: 250 Hz
samples, fixations of 200–400 ms (scene viewing) on the eyes, the mouth, the flag and the background, fast saccades
(~30 ms) between them, small fixational jitter, and one short blink (invalid samples). It is
written as the generic CSV gaze format, so the demo goes through the same reader, gaze filter
and foveation model as a real eye-tracking recording.

Viewing geometry (:func:`demo_display`): the 640×360 clip at 1:1 pixels on a 27-inch 4K monitor
(0.597 m, 3840 px wide) seen from 0.6 m — 67 pixels per degree, the clip spans 9.5°×5.4°. Gaze can
only matter where the frame carries more detail than the periphery resolves: the foveation model
(``importance.foveation``) caps acuity at the display's Nyquist frequency, so a 640-pixel frame
*fitted* full screen on a 48°-wide monitor (13 frame pixels per degree, 6.6 cycles/degree) stays
above importance 0.5 out to ~26° eccentricity — everywhere on the frame — and foveation rightly
drops nothing. At 1:1 on a dense screen the full-acuity disc is small: the demo calls the pixels
within ``FOVEA_DEG`` = 2° of the gaze point the *fovea* (the central 4° of vision) and everything else
the periphery, and reports their shares of the frame along with the share at importance ≥ 0.5.
"""
from __future__ import annotations

import math
import os

import numpy as np

__all__ = ["make_clip", "make_gaze_trace", "demo_display", "fovea_threshold", "bit_map", "rate_at_quality",
           "DEMO_SIZE", "DEMO_FRAMES", "DEMO_FPS", "FOVEA_DEG", "DISPLAY_TEXT"]

DEMO_SIZE = (360, 640)   # (H, W)
DEMO_FRAMES = 16
DEMO_FPS = 12
FOVEA_DEG = 2.0          # radius of the region reported as "fovea" (degrees of visual angle)
MONITOR = {"diagonal_in": 27, "width_m": 0.597, "width_px": 3840, "height_px": 2160, "distance_m": 0.6}
DISPLAY_TEXT = ("1:1 pixels on a 27-inch 4K monitor (0.597 m, 3840 px wide) viewed from 0.6 m")


def demo_display(size=DEMO_SIZE):
    """The clip shown at 1:1 pixels on a 27-inch 3840×2160 monitor (0.597 m wide) viewed from 0.6 m:
    ~67 pixels per degree, so the 640×360 clip spans ~9.5°×5.4° (see the module doc for why not
    fitted full screen). Returned as the :class:`~rac_video.importance.foveation.Display` of the
    window the clip fills (same pixel pitch and distance)."""
    from .importance.foveation import Display

    H, W = size
    return Display(width_m=MONITOR["width_m"] * W / MONITOR["width_px"], width_px=W, height_px=H,
                   distance_m=MONITOR["distance_m"])


def fovea_threshold(display, size=DEMO_SIZE, fovea_deg: float = FOVEA_DEG, params=None) -> float:
    """The importance a gaze map has at ``fovea_deg`` eccentricity: ``map >= this`` is the disc of
    radius ``fovea_deg`` around the gaze point (the map falls monotonically with eccentricity)."""
    from .importance.foveation import FoveationParams, effective_ppd, importance_from_eccentricity

    params = params or FoveationParams()
    return float(importance_from_eccentricity(fovea_deg, effective_ppd(display, size), params))


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
    # left eye, the stars of the flag, the mouth, right eye, the stripes, the blue background
    targets = np.array([[0.42, 0.30], [0.10, 0.22], [0.52, 0.60], [0.60, 0.30], [0.14, 0.72], [0.88, 0.45]])
    t_all = np.arange(0.0, seconds, 1.0 / rate_hz)
    x = np.empty_like(t_all)
    y = np.empty_like(t_all)
    valid = np.ones_like(t_all, dtype=int)
    pos = targets[0] * (W, H)
    i, k = 0, 0
    while i < len(t_all):
        fix = int(rng.uniform(0.2, 0.4) * rate_hz)
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


# ---------------------------------------------------------------------------------------------- measurements
def bit_map(codec, frame, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0, rdoq=None) -> np.ndarray:
    """Where one frame's payload bits go: (H, W) float64 bits per frame pixel.

    The information content of every coded symbol under the coder's own integer tables (what
    ``Codec.estimate_bits`` sums, within 1 % of the coded size): each latent symbol's bits are spread
    over the ``FACTOR``×``FACTOR`` pixels it covers, each hyper-latent's over its larger cell. Bits of
    latent cells in the padding beyond the frame edge are left out, as is the payload header, so the
    map sums to slightly less than the estimate; use it for shares (inside / outside a region)."""
    from .codec.autoencoder import FACTOR
    from .codec.hyperprior import HYPER_FACTOR

    H, W = np.asarray(frame).shape[:2]
    yb, zb = codec.symbol_bits(frame, levels_u8, quality, seed=seed, dither_frame=dither_frame, rdoq=rdoq)
    zb = zb.sum(0)
    per_px = np.repeat(np.repeat(yb.sum(0), FACTOR, 0), FACTOR, 1) / FACTOR**2
    f = FACTOR * HYPER_FACTOR
    per_px += np.repeat(np.repeat(zb, f, 0), f, 1)[:per_px.shape[0], :per_px.shape[1]] / f**2
    return per_px[:H, :W]


def rate_at_quality(points, target: float):
    """The size at which a rate–quality curve reaches ``target`` quality, by linear interpolation of
    log(size) between the two measured points that bracket it.

    ``points``: [(size, quality), ...] of one method. Returns (size, how) with how "interpolated",
    or (None, "below"/"above") when every measured point is below / above the target (no
    extrapolation: the caller states the bound instead)."""
    pts = sorted((float(b), float(q)) for b, q in points if b and q is not None and math.isfinite(q))
    if not pts:
        return None, "no points"
    qs = [q for _, q in pts]
    if target > max(qs):
        return None, "below"
    if target < min(qs):
        return None, "above"
    best = None
    for (b0, q0), (b1, q1) in zip(pts, pts[1:]):
        if min(q0, q1) <= target <= max(q0, q1):
            if q1 == q0:
                cand = min(b0, b1)
            else:
                a = (target - q0) / (q1 - q0)
                cand = math.exp(math.log(b0) + a * (math.log(b1) - math.log(b0)))
            best = cand if best is None else min(best, cand)
    if best is None:                       # target equals a single point's quality
        best = min(b for b, q in pts if q == target)
    return best, "interpolated"
