"""Heat-map visualisation of importance (or bits) over video frames (numpy; videos via PyAV).

* :func:`heatmap` — a map in [0, 1] to RGB uint8 with a built-in perceptually ordered colour ramp
  (black → purple → red → yellow → white, ``inferno``-like; defined by the table ``RAMP``).
* :func:`overlay` — alpha-blend the heat map of ``m`` onto an RGB frame (the map is resized to the
  frame; ``alpha`` may scale with the map value so unimportant areas stay visible as they are).
* :func:`write_overlay_video` — overlay a sequence of frames and maps into a video file (PyAV).
"""
from __future__ import annotations

import numpy as np

from ._resample import resize_map

__all__ = ["RAMP", "heatmap", "overlay", "write_overlay_video"]

# control points (value, R, G, B) of the colour ramp
RAMP = np.array([[0.00, 0, 0, 4], [0.25, 87, 16, 110], [0.50, 188, 55, 84], [0.75, 249, 142, 9],
                 [1.00, 252, 255, 164]], dtype=np.float64)
_LUT = np.stack([np.interp(np.linspace(0, 1, 256), RAMP[:, 0], RAMP[:, c]) for c in (1, 2, 3)],
                axis=1).round().astype(np.uint8)


def _map01(m, vmin=0.0, vmax=1.0) -> np.ndarray:
    a = np.asarray(m, dtype=np.float32)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"map must be (H, W), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("map contains NaN or inf")
    if vmax is None:
        vmax = float(a.max())
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        raise ValueError("vmin and vmax must be finite")
    if vmax <= vmin:
        return np.zeros_like(a)
    return np.clip((a - vmin) / (vmax - vmin), 0.0, 1.0)


def heatmap(m, *, vmin: float = 0.0, vmax: float | None = 1.0) -> np.ndarray:
    """RGB uint8 (H, W, 3) of a map scaled from [vmin, vmax] to the ramp (values outside are
    clipped; ``vmax=None``: the map's maximum, e.g. for bits-per-pixel maps)."""
    return _LUT[np.rint(_map01(m, vmin, vmax) * 255).astype(np.intp)]


def overlay(frame, m, *, alpha: float = 0.5, weighted: bool = False, vmin: float = 0.0,
            vmax: float | None = 1.0) -> np.ndarray:
    """Blend ``heatmap(m)`` onto an RGB uint8 frame: out = (1 − w)·frame + w·heat with w = alpha
    (or alpha·m when ``weighted``); ``vmin``/``vmax`` as in :func:`heatmap`."""
    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 (H, W, 3), got {f.dtype} {f.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    a = _map01(m, vmin, vmax)
    if a.shape != f.shape[:2]:
        a = np.clip(resize_map(a, f.shape[:2]), 0.0, 1.0)
    w = (alpha * a if weighted else np.full(a.shape, alpha, np.float32))[..., None]
    out = (1.0 - w) * f.astype(np.float32) + w * heatmap(a).astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def write_overlay_video(path, frames, maps, fps, *, alpha: float = 0.5, weighted: bool = False,
                        vmin: float = 0.0, vmax: float | None = 1.0, codec: str = "libx264", crf: int = 18) -> int:
    """Write overlays of ``frames`` (iterable of RGB uint8) and ``maps`` (iterable of (H, W) maps)
    to a video at ``fps``; returns the number of frames written. Needs PyAV."""
    try:
        import av  # noqa: PLC0415
    except ImportError:
        raise ImportError("write_overlay_video needs PyAV: pip install av") from None
    from fractions import Fraction  # noqa: PLC0415

    rate = Fraction(fps).limit_denominator(1001)
    n = 0
    with av.open(str(path), "w") as c:
        stream = None
        for f, m in zip(frames, maps):
            img = overlay(f, m, alpha=alpha, weighted=weighted, vmin=vmin, vmax=vmax)
            H, W = img.shape[:2]
            if stream is None:
                stream = c.add_stream(codec, rate=rate)
                stream.width, stream.height = W - W % 2, H - H % 2
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": str(crf)}
            img = img[: stream.height, : stream.width]
            for pkt in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                c.mux(pkt)
            n += 1
        if stream is not None:
            for pkt in stream.encode():
                c.mux(pkt)
    if n == 0:
        raise ValueError("no frames to write")
    return n
