"""Gaze-contingent importance from display geometry and an eccentricity model of acuity.

Geometry: a :class:`Display` is a screen ``width_m`` metres wide with ``width_px`` × ``height_px``
pixels, seen from ``distance_m``. A video frame is shown scaled to fit the screen (aspect ratio kept,
centred), so one frame pixel covers ``scale = min(width_px/W, height_px/H)`` screen pixels.

Eccentricity ``e`` (degrees) of a pixel from a gaze point: by default the flat approximation
``distance_px / ppd`` with ppd measured at the screen centre (the same definition the integer
side-info path uses, see ``sideinfo.FoveatedGaze``); ``exact=True`` gives the true visual angle
between the two view rays.

Acuity: the Geisler–Perry cut-off frequency ``f_c(e) = e2·ln(1/CT0) / (alpha·(e + e2))`` (cycles
per degree; alpha = 0.106, e2 = 2.3°, CT0 = 1/64), limited by what the display can show, its
Nyquist frequency ``ppd/2`` (ppd of the screen, or of the frame if it is shown upscaled:
:func:`effective_ppd`). Importance is ``min(f_c(e'), nyq) / min(f_c(0), nyq)`` with
``e' = max(0, e − margin_deg)`` (tracker-error margin, 0.5° by default), raised to a peripheral
``floor``. Several gaze points (viewers) combine by the maximum.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Display", "FoveationParams", "GAZECOM_DISPLAY", "cutoff_frequency", "eccentricity",
           "effective_ppd", "importance_from_eccentricity", "importance_map", "radius_for_importance"]


@dataclass(frozen=True)
class Display:
    """Screen geometry: physical width (m), pixel size, viewing distance (m)."""

    width_m: float
    width_px: int
    height_px: int
    distance_m: float

    def __post_init__(self):
        for name in ("width_m", "distance_m"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"Display.{name} must be a positive finite number, got {v!r}")
        for name in ("width_px", "height_px"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"Display.{name} must be a positive integer, got {v!r}")

    @property
    def pixel_m(self) -> float:
        """Size of one screen pixel in metres (square pixels)."""
        return self.width_m / self.width_px

    @property
    def ppd(self) -> float:
        """Screen pixels per degree at the screen centre: pixels spanned by the central 1° of view."""
        return 2.0 * self.distance_m * math.tan(math.radians(0.5)) / self.pixel_m

    def frame_scale(self, frame_hw) -> float:
        """Screen pixels per frame pixel when a frame (H, W) is shown fitted to the screen."""
        H, W = _hw(frame_hw)
        return min(self.width_px / W, self.height_px / H)

    def frame_ppd(self, frame_hw) -> float:
        """Frame pixels per degree at the screen centre for a frame shown fitted to the screen."""
        return self.ppd / self.frame_scale(frame_hw)

    @property
    def nyquist_cpd(self) -> float:
        """Highest spatial frequency the screen can show, cycles per degree (ppd / 2)."""
        return self.ppd / 2.0


# The viewing setup of the GazeCom recordings (header of every .coord file).
GAZECOM_DISPLAY = Display(width_m=0.4, width_px=1280, height_px=720, distance_m=0.45)


@dataclass(frozen=True)
class FoveationParams:
    """Parameters of the acuity model (see the module doc)."""

    margin_deg: float = 0.5
    floor: float = 0.1
    alpha: float = 0.106
    e2: float = 2.3
    ct0: float = 1.0 / 64.0
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        checks = {"margin_deg": self.margin_deg >= 0, "floor": 0 <= self.floor <= 1, "alpha": self.alpha > 0,
                  "e2": self.e2 > 0, "ct0": 0 < self.ct0 < 1}
        for name, ok in checks.items():
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and ok):
                raise ValueError(f"FoveationParams.{name} out of range: {v!r}")


def _hw(frame_hw):
    try:
        H, W = (int(v) for v in frame_hw)
    except (TypeError, ValueError):
        raise ValueError(f"frame_hw must be (height, width), got {frame_hw!r}") from None
    if H <= 0 or W <= 0:
        raise ValueError(f"frame_hw must be positive, got {frame_hw!r}")
    return H, W


def cutoff_frequency(e_deg, params: FoveationParams = FoveationParams()):
    """Geisler–Perry cut-off frequency (cycles/degree) at eccentricity ``e_deg`` (degrees, >= 0)."""
    e = np.maximum(np.asarray(e_deg, dtype=np.float64), 0.0)
    return params.e2 * math.log(1.0 / params.ct0) / (params.alpha * (e + params.e2))


def importance_from_eccentricity(e_deg, ppd: float, params: FoveationParams = FoveationParams()):
    """Importance in [floor, 1] from eccentricity (degrees); ``ppd`` (pixels per degree) sets the
    Nyquist limit ``ppd/2``."""
    if not (math.isfinite(ppd) and ppd > 0):
        raise ValueError(f"pixels per degree must be positive, got {ppd!r}")
    nyq = ppd / 2.0
    top = min(float(cutoff_frequency(0.0, params)), nyq)
    e = np.maximum(np.asarray(e_deg, dtype=np.float64) - params.margin_deg, 0.0)
    v = np.minimum(cutoff_frequency(e, params), nyq) / top
    return np.clip(v, params.floor, 1.0)


def radius_for_importance(v: float, ppd: float, params: FoveationParams = FoveationParams()) -> float:
    """Largest eccentricity (degrees) at which the unfloored importance is still >= ``v``:
    ``inf`` for v <= 0, ``-inf`` for v > 1 (never reached)."""
    if v <= 0:
        return math.inf
    if v > 1:
        return -math.inf
    if not (math.isfinite(ppd) and ppd > 0):
        raise ValueError(f"pixels per degree must be positive, got {ppd!r}")
    top = min(float(cutoff_frequency(0.0, params)), ppd / 2.0)
    # min(f_c, nyq) >= v*top  <=>  f_c(e') >= v*top  (since v*top <= nyq)
    e = params.e2 * math.log(1.0 / params.ct0) / (params.alpha * v * top) - params.e2
    return max(e, 0.0) + params.margin_deg


def eccentricity(points, frame_hw, display: Display, exact: bool = False) -> np.ndarray:
    """Eccentricity (degrees) of every pixel centre from each gaze point: (K, H, W) float64.

    ``points``: (K, 2) frame-pixel (x, y), origin at the top-left corner of the frame, pixel centres
    at +0.5."""
    H, W = _hw(frame_hw)
    pts = _points(points)
    ys = np.arange(H, dtype=np.float64) + 0.5
    xs = np.arange(W, dtype=np.float64) + 0.5
    out = np.empty((len(pts), H, W))
    if not exact:
        ppd = display.frame_ppd((H, W))
        for k, (px, py) in enumerate(pts):
            out[k] = np.hypot(xs[None, :] - px, ys[:, None] - py) / ppd
        return out
    m = display.pixel_m * display.frame_scale((H, W))  # metres per frame pixel
    d = display.distance_m
    X = (xs[None, :] - W / 2) * m
    Y = (ys[:, None] - H / 2) * m
    nrm = np.sqrt(X * X + Y * Y + d * d)
    for k, (px, py) in enumerate(pts):
        qx, qy = (px - W / 2) * m, (py - H / 2) * m
        c = (X * qx + Y * qy + d * d) / (nrm * math.sqrt(qx * qx + qy * qy + d * d))
        out[k] = np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))
    return out


def _points(points) -> np.ndarray:
    p = np.asarray(points, dtype=np.float64)
    if p.size == 0:
        return np.zeros((0, 2))
    if p.ndim == 1 and p.shape[0] == 2:
        p = p[None]
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"gaze points must be (K, 2) (x, y), got shape {p.shape}")
    return p[np.isfinite(p).all(axis=1)]


def importance_map(points, frame_hw, display: Display, params: FoveationParams | None = None, *,
                   exact: bool = False, empty: str = "uniform", **kw) -> np.ndarray:
    """Foveated importance (H, W) float32 in [floor, 1] for gaze ``points`` ((K, 2) frame pixels,
    non-finite rows ignored); several points combine by maximum. With no valid point the map is
    ``empty``: "uniform" (all 1: nothing known, nothing degraded) or "floor" (all ``floor``).
    Keyword arguments ``margin_deg``, ``floor``, ``alpha``, ``e2``, ``ct0`` override ``params``."""
    if params is None:
        params = FoveationParams(**kw)
    elif kw:
        params = FoveationParams(**{**params.__dict__, **kw, "extra": params.extra})
    if empty not in ("uniform", "floor"):
        raise ValueError(f"empty must be 'uniform' or 'floor', got {empty!r}")
    H, W = _hw(frame_hw)
    pts = _points(points)
    if len(pts) == 0:
        return np.full((H, W), 1.0 if empty == "uniform" else params.floor, np.float32)
    e = None
    for p in pts:  # one point at a time: memory stays O(H·W) for any number of viewers
        ek = eccentricity(p[None], (H, W), display, exact=exact)[0]
        e = ek if e is None else np.minimum(e, ek, out=e)
    return importance_from_eccentricity(e, effective_ppd(display, (H, W)), params).astype(np.float32)


def effective_ppd(display: Display, frame_hw) -> float:
    """Pixels per degree that limit the visible detail: the coarser of the screen and the (scaled)
    frame, so an upscaled low-resolution frame has a lower Nyquist frequency than the screen."""
    return min(display.ppd, display.frame_ppd(frame_hw))
