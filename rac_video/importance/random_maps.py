"""Random importance maps for training (docs/design.md §3.7, stage 2): the kinds of maps the codec meets.

``random_importance(rng, hw, kind=None)`` draws one (H, W) float32 map in [0, 1] of a kind from
``KINDS`` (uniformly when ``kind`` is None):

* ``uniform``   — a constant level (including 0 and 1),
* ``regions``   — a few axis-aligned boxes and ellipses with sharp edges over a random background,
* ``gradient``  — a linear ramp in a random direction between two random levels,
* ``blobs``     — a sum of 1–6 Gaussian blobs of random size and weight, clipped, over a floor,
* ``foveation`` — ``foveation.importance_map`` for 1–3 random gaze points (possibly just outside
  the map, as for a crop of a larger frame) at 20–120 pixels per degree, random margin and floor, so
  the training data covers real foveation profiles.

Everything comes from the numpy ``Generator`` passed in, so a seed reproduces a batch.
"""
from __future__ import annotations

import numpy as np

from . import foveation

__all__ = ["KINDS", "random_importance", "random_batch"]

KINDS = ("uniform", "regions", "gradient", "blobs", "foveation")


def _uniform(rng, H, W):
    v = rng.choice([0.0, 1.0, rng.random()])
    return np.full((H, W), v, np.float32)


def _regions(rng, H, W):
    m = np.full((H, W), rng.random() * 0.5, np.float32)
    yy, xx = np.mgrid[0:H, 0:W]
    for _ in range(rng.integers(1, 5)):
        v = rng.random()
        cx, cy = rng.random() * W, rng.random() * H
        rx, ry = (0.05 + 0.4 * rng.random()) * W, (0.05 + 0.4 * rng.random()) * H
        if rng.random() < 0.5:
            inside = (np.abs(xx - cx) <= rx) & (np.abs(yy - cy) <= ry)
        else:
            inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
        m[inside] = v
    return m


def _gradient(rng, H, W):
    a, b = rng.random(2)
    th = rng.random() * 2 * np.pi
    yy, xx = np.mgrid[0:H, 0:W]
    p = (xx - W / 2) * np.cos(th) + (yy - H / 2) * np.sin(th)
    p = (p - p.min()) / max(float(p.max() - p.min()), 1e-9)
    return (a + (b - a) * p).astype(np.float32)


def _blobs(rng, H, W):
    yy, xx = np.mgrid[0:H, 0:W]
    m = np.zeros((H, W))
    for _ in range(rng.integers(1, 7)):
        cx, cy = rng.random() * W, rng.random() * H
        s = (0.03 + 0.3 * rng.random()) * max(H, W)
        m += (0.3 + 0.7 * rng.random()) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
    floor = 0.3 * rng.random()
    return np.clip(floor + (1 - floor) * m, 0, 1).astype(np.float32)


def _foveation(rng, H, W):
    # the map may be a crop of a larger frame: draw the frame's pixels per degree directly
    # (20..120 px/deg: HD to beyond 4K at desktop distance) and a display showing it 1:1
    ppd = float(np.exp(rng.uniform(np.log(20.0), np.log(120.0))))
    d = 0.6
    disp = foveation.Display(width_m=2 * d * float(np.tan(np.radians(0.5))) * W / ppd, width_px=W, height_px=H,
                             distance_m=d)
    params = foveation.FoveationParams(margin_deg=float(rng.uniform(0, 1)), floor=float(rng.uniform(0, 0.4)))
    k = int(rng.integers(1, 4))
    pts = np.stack([rng.uniform(-0.1, 1.1, k) * W, rng.uniform(-0.1, 1.1, k) * H], 1)
    return foveation.importance_map(pts, (H, W), disp, params)


_MAKERS = {"uniform": _uniform, "regions": _regions, "gradient": _gradient, "blobs": _blobs, "foveation": _foveation}


def random_importance(rng: np.random.Generator, hw, kind: str | None = None) -> np.ndarray:
    """One random importance map (H, W) float32 in [0, 1] (see the module doc)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    H, W = (int(v) for v in hw)
    if H <= 0 or W <= 0:
        raise ValueError(f"hw must be positive, got {hw!r}")
    if kind is None:
        kind = KINDS[int(rng.integers(len(KINDS)))]
    if kind not in _MAKERS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return np.clip(_MAKERS[kind](rng, H, W), 0.0, 1.0).astype(np.float32)


def random_batch(seed: int, n: int, hw, kinds=KINDS) -> np.ndarray:
    """(n, 1, H, W) float32 batch of random maps, kinds drawn from ``kinds``; reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    kinds = tuple(kinds)
    if not kinds:
        raise ValueError("kinds must not be empty")
    return np.stack([random_importance(rng, hw, kinds[int(rng.integers(len(kinds)))])[None] for _ in range(n)])
