"""Small image helpers shared by the importance modules (float maps, numpy in / numpy out)."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def resize_map(m, hw) -> np.ndarray:
    """Resize a float map (H, W) to ``hw``: area averaging when shrinking, bilinear when enlarging."""
    a = np.asarray(m, dtype=np.float32)
    h, w = int(hw[0]), int(hw[1])
    if a.shape == (h, w):
        return a.copy()
    x = torch.from_numpy(np.ascontiguousarray(a))[None, None]
    if h <= a.shape[0] and w <= a.shape[1]:
        y = F.interpolate(x, size=(h, w), mode="area")
    else:
        y = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return y[0, 0].numpy()


def gaussian_blur(m, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (reflect padding) of a float map; sigma in pixels (0 = copy)."""
    a = np.asarray(m, dtype=np.float32)
    if sigma <= 0:
        return a.copy()
    r = max(1, int(math.ceil(3 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = torch.from_numpy((k / k.sum()).astype(np.float32))
    x = torch.from_numpy(np.ascontiguousarray(a))[None, None]
    ph, pw = min(r, a.shape[0] - 1), min(r, a.shape[1] - 1)
    # reflect padding needs pad < size; fall back to replicate on tiny maps
    mode = "reflect" if ph == r and pw == r else "replicate"
    x = F.pad(x, (r, r, r, r), mode=mode)
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x[0, 0].numpy()


def luma(frame) -> np.ndarray:
    """BT.601 luma in [0, 1] (float32) of a uint8 RGB (H, W, 3) frame or a grayscale (H, W) image."""
    f = np.asarray(frame)
    if f.ndim == 3 and f.shape[2] == 1:
        f = f[..., 0]
    if f.ndim == 2:
        g = f.astype(np.float32)
    elif f.ndim == 3 and f.shape[2] in (3, 4):
        g = f[..., 0] * np.float32(0.299) + f[..., 1] * np.float32(0.587) + f[..., 2] * np.float32(0.114)
        g = g.astype(np.float32)
    else:
        raise ValueError(f"frame must be (H, W, 3) RGB or (H, W) gray, got shape {f.shape}")
    if f.size == 0:
        raise ValueError("empty frame")
    if f.dtype == np.uint8:
        g = g / 255.0
    elif f.dtype == np.uint16:
        g = g / 65535.0
    elif not np.issubdtype(f.dtype, np.floating):
        raise ValueError(f"frame must be uint8, uint16 or float, got {f.dtype}")
    if not np.isfinite(g).all():
        raise ValueError("frame contains NaN or inf")
    return g.astype(np.float32)


def normalize01(m) -> np.ndarray:
    """Scale a map to [0, 1] by its min and max (a constant map becomes all zeros)."""
    a = np.asarray(m, dtype=np.float32)
    lo, hi = float(a.min()), float(a.max())
    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return np.zeros_like(a)
    return ((a - lo) / (hi - lo)).astype(np.float32)


def read_image(path):
    """(array, PIL mode) of an image file: "L"/"1" -> uint8/bool (H, W), 16-bit -> uint16 (H, W),
    "P" -> palette indices uint8 (H, W), anything else -> RGB uint8 (H, W, 3). ValueError if unreadable."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("L", "1", "P"):
                return np.asarray(im), mode
            if mode.startswith("I;16") or mode == "I":
                return np.asarray(im).astype(np.uint16), mode
            return np.asarray(im.convert("RGB")), mode
    except (OSError, UnidentifiedImageError, SyntaxError) as e:
        raise ValueError(f"{path}: cannot read image ({e})") from None
