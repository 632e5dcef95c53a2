"""Region-of-interest importance: boxes and mask image sequences, with feathered edges.

* :func:`boxes` — rectangles (x0, y0, x1, y1) in frame pixels (x1, y1 exclusive, clipped to the
  frame), each with a value (default 1) and its own feathered edge, combined by maximum over a
  ``background`` value.
* :class:`MaskSequence` / :func:`masks` — per-frame object masks from a directory (or glob, or list)
  of images, e.g. DAVIS ``Annotations/<seq>/NNNNN.png``: any non-zero pixel (palette index, gray level
  or colour) is inside the object; read lazily, resized to ``frame_hw`` (nearest) when given.
* :func:`feather` — soft outward edge: ``max(m, min(1, 2·G_σ * m))`` with σ = radius/2, so the region
  keeps its value and the importance falls off smoothly over about ``radius`` pixels outside it.
"""
from __future__ import annotations

import glob
import os

import numpy as np

from ._resample import gaussian_blur, read_image, resize_map

__all__ = ["boxes", "feather", "read_mask", "MaskSequence", "masks", "MASK_EXTS"]

MASK_EXTS = (".png", ".bmp", ".pgm", ".tif", ".tiff", ".jpg", ".jpeg", ".gif", ".webp")


def _hw(frame_hw):
    try:
        H, W = (int(v) for v in frame_hw)
    except (TypeError, ValueError):
        raise ValueError(f"frame_hw must be (height, width), got {frame_hw!r}") from None
    if H <= 0 or W <= 0:
        raise ValueError(f"frame_hw must be positive, got {frame_hw!r}")
    return H, W


def feather(m, radius_px: float) -> np.ndarray:
    """Feather a region indicator (values in [0, 1], typically a 0/1 mask) outward by about
    ``radius_px`` pixels (0 = unchanged). Apply it to the indicator, then map to importance
    (``background + (value − background)·feathered``) — as :func:`boxes` and :class:`MaskSequence` do."""
    a = np.asarray(m, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"map must be (H, W), got shape {a.shape}")
    if not (np.isfinite(radius_px) and radius_px >= 0):
        raise ValueError(f"feather radius must be >= 0, got {radius_px!r}")
    if radius_px == 0:
        return a.copy()
    soft = np.minimum(1.0, 2.0 * gaussian_blur(a, radius_px / 2.0))
    return np.clip(np.maximum(a, soft), 0.0, 1.0).astype(np.float32)


def boxes(box_list, frame_hw, *, values=None, background: float = 0.0, feather_px: float = 0.0) -> np.ndarray:
    """Importance (H, W) float32 from boxes (K, 4) = (x0, y0, x1, y1) pixels; see the module doc."""
    H, W = _hw(frame_hw)
    b = np.asarray(box_list, dtype=np.float64)
    if b.size == 0:
        b = np.zeros((0, 4))
    if b.ndim == 1 and b.shape[0] == 4:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 4 or not np.isfinite(b).all():
        raise ValueError(f"boxes must be finite (K, 4) (x0, y0, x1, y1), got shape {b.shape}")
    if values is None:
        v = np.ones(len(b))
    else:
        v = np.broadcast_to(np.asarray(values, dtype=np.float64), (len(b),))
    if not (0 <= background <= 1) or np.any((v < 0) | (v > 1)) or not np.isfinite(v).all():
        raise ValueError("box values and background must be in [0, 1]")
    out = np.full((H, W), background, np.float32)
    for (x0, y0, x1, y1), val in zip(b, v):
        if x1 < x0 or y1 < y0:
            raise ValueError(f"box ({x0}, {y0}, {x1}, {y1}) has x1 < x0 or y1 < y0")
        c0, c1 = int(np.clip(np.floor(x0), 0, W)), int(np.clip(np.ceil(x1), 0, W))
        r0, r1 = int(np.clip(np.floor(y0), 0, H)), int(np.clip(np.ceil(y1), 0, H))
        ind = np.zeros((H, W), np.float32)
        ind[r0:r1, c0:c1] = 1.0
        if feather_px:
            ind = feather(ind, feather_px)
        np.maximum(out, background + (val - background) * ind, out=out)
    return out.astype(np.float32)


def read_mask(path) -> np.ndarray:
    """An object mask image as float32 (H, W): 1 where the pixel is non-zero (any channel), else 0."""
    a, _mode = read_image(path)
    if a.ndim == 3:
        a = a.max(axis=2)
    return (a > 0).astype(np.float32)


class MaskSequence:
    """Lazy per-frame masks (see the module doc); ``seq[i]`` -> (H, W) float32 in [0, 1]."""

    def __init__(self, source, frame_hw=None, *, feather_px: float = 0.0, background: float = 0.0,
                 value: float = 1.0):
        if isinstance(source, (list, tuple)):
            files = [os.fspath(p) for p in source]
        else:
            s = os.fspath(source)
            if os.path.isdir(s):
                files = sorted(p for p in glob.glob(os.path.join(s, "*")) if p.lower().endswith(MASK_EXTS))
            elif any(c in s for c in "*?["):
                files = sorted(glob.glob(s))
            elif os.path.isfile(s):
                files = [s]
            else:
                raise FileNotFoundError(f"mask source not found: {source}")
        if not files:
            raise ValueError(f"no mask images in {source}")
        if not (0 <= background <= 1 and 0 <= value <= 1):
            raise ValueError("background and value must be in [0, 1]")
        if not (np.isfinite(feather_px) and feather_px >= 0):
            raise ValueError(f"feather_px must be >= 0, got {feather_px!r}")
        self.files = files
        self.frame_hw = None if frame_hw is None else _hw(frame_hw)
        self.feather_px, self.background, self.value = float(feather_px), float(background), float(value)

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        m = read_mask(self.files[i])
        if self.frame_hw is not None and m.shape != self.frame_hw:
            m = (resize_map(m, self.frame_hw) >= 0.5).astype(np.float32)
        if self.feather_px:
            m = feather(m, self.feather_px)
        return (self.background + (self.value - self.background) * m).astype(np.float32)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def masks(source, frame_hw=None, **kw) -> MaskSequence:
    """Shorthand for :class:`MaskSequence`."""
    return MaskSequence(source, frame_hw, **kw)
