"""Temporal behaviour of importance maps: saccade detection, gaze filtering and prediction, smoothing.

* :func:`velocity_deg_s` / :func:`detect_saccades` — velocity-threshold (I-VT) saccade detection on
  a gaze trace: speed in degrees per second (pixel distance / pixels-per-degree over the time step);
  a sample is in a saccade when its speed exceeds ``threshold_deg_s`` (default 30°/s). ``mode``:
  "backward" (step from the previous sample: causal, for streaming), "central" (previous to next
  sample) or "either" (max of the steps into and out of the sample).
* :class:`GazeFilter` — per-frame gaze smoothing for foveation: an alpha–beta filter (position and
  velocity; the gain alpha = 1 − exp(−dt/tau), beta = alpha²/(2 − alpha)) that removes fixation jitter
  and follows smooth pursuit without lag, and **jumps** to the new position at a saccade (speed above
  the threshold) instead of sliding there. Optional prediction by ``predict_s`` seconds (velocity
  extrapolation, for streaming latency). Missing samples hold the last state for ``hold_s`` seconds.
  ``deadzone_deg`` > 0 keeps the output still while the gaze stays within that radius of it (so the
  level map does not change at all during a fixation; it moves on saccades and when the gaze leaves
  the zone, e.g. during pursuit).
  Several viewers: one filter state per row of the points array.
* :class:`Smoother` — exponential smoothing of importance maps (time constant ``tau_s``) that resets
  to the new map at saccades of any viewer (when gaze is passed) or on request (scene cuts), so maps
  do not flicker during fixations and do not smear across saccades.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["velocity_deg_s", "detect_saccades", "GazeFilter", "Smoother", "DEFAULT_THRESHOLD_DEG_S"]

DEFAULT_THRESHOLD_DEG_S = 30.0


def _check_pos(name, v, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) \
            or (v < 0 if allow_zero else v <= 0):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} number, got {v!r}")
    return float(v)


def velocity_deg_s(t, xy, ppd: float, mode: str = "backward") -> np.ndarray:
    """Gaze speed (n,) in degrees/second; NaN where a neighbour is missing or the time step is not
    positive. ``t`` seconds (n,), ``xy`` pixels (n, 2), ``ppd`` pixels per degree."""
    t = np.asarray(t, dtype=np.float64)
    p = np.asarray(xy, dtype=np.float64)
    if t.ndim != 1 or p.shape != (len(t), 2):
        raise ValueError(f"t must be (n,) and xy (n, 2), got {t.shape} and {p.shape}")
    ppd = _check_pos("ppd", ppd)
    if mode not in ("backward", "central", "either"):
        raise ValueError(f"mode must be 'backward', 'central' or 'either', got {mode!r}")
    n = len(t)
    back = np.full(n, np.nan)
    if n >= 2:
        dt = np.diff(t)
        d = np.hypot(*np.diff(p, axis=0).T) / ppd
        with np.errstate(invalid="ignore", divide="ignore"):
            back[1:] = np.where(dt > 0, d / np.where(dt > 0, dt, 1), np.nan)
    if mode == "backward":
        return back
    fwd = np.append(back[1:], np.nan)
    if mode == "either":
        return np.fmax(back, fwd)
    cen = np.full(n, np.nan)
    if n >= 3:
        dt2 = t[2:] - t[:-2]
        d2 = np.hypot(*(p[2:] - p[:-2]).T) / ppd
        with np.errstate(invalid="ignore", divide="ignore"):
            cen[1:-1] = np.where(dt2 > 0, d2 / np.where(dt2 > 0, dt2, 1), np.nan)
    return cen


def detect_saccades(t, xy, ppd: float, threshold_deg_s: float = DEFAULT_THRESHOLD_DEG_S,
                    mode: str = "backward") -> np.ndarray:
    """Boolean (n,): the sample's speed exceeds ``threshold_deg_s`` (NaN speed -> False)."""
    thr = _check_pos("threshold_deg_s", threshold_deg_s)
    v = velocity_deg_s(t, xy, ppd, mode)
    return np.nan_to_num(v, nan=-1.0) > thr


class GazeFilter:
    """Per-frame gaze filter with saccade jumps and optional prediction (see the module doc)."""

    def __init__(self, fps: float, ppd: float, *, tau_s: float = 0.04,
                 threshold_deg_s: float = DEFAULT_THRESHOLD_DEG_S, predict_s: float = 0.0, hold_s: float = 0.25,
                 frame_wh=None, deadzone_deg: float = 0.0):
        self.fps = _check_pos("fps", float(fps))
        self.ppd = _check_pos("ppd", ppd)
        self.tau_s = _check_pos("tau_s", tau_s, allow_zero=True)
        self.threshold = _check_pos("threshold_deg_s", threshold_deg_s)
        self.predict_s = _check_pos("predict_s", predict_s, allow_zero=True)
        self.hold_s = _check_pos("hold_s", hold_s, allow_zero=True)
        self.deadzone_px = _check_pos("deadzone_deg", deadzone_deg, allow_zero=True) * self.ppd
        self.frame_wh = None if frame_wh is None else (float(frame_wh[0]), float(frame_wh[1]))
        dt = 1.0 / self.fps
        self.alpha = 1.0 if self.tau_s == 0 else 1.0 - math.exp(-dt / self.tau_s)
        self.beta = self.alpha * self.alpha / (2.0 - self.alpha)
        self.reset()

    def reset(self):
        self._x = None        # (K, 2) filtered position
        self._v = None        # (K, 2) velocity px/s
        self._last = None     # (K, 2) last raw valid sample
        self._gap = None      # (K,) frames since the last valid sample
        self._out = None      # (K, 2) last output (dead zone anchor)
        self.saccade = np.zeros(0, bool)
        self.speed = np.zeros(0)

    def _ensure(self, k):
        if self._x is None or len(self._x) != k:
            self._x = np.full((k, 2), np.nan)
            self._v = np.zeros((k, 2))
            self._last = np.full((k, 2), np.nan)
            self._gap = np.zeros(k, np.int64)
            self._out = np.full((k, 2), np.nan)

    def update(self, points) -> np.ndarray:
        """Feed this frame's raw gaze (K, 2) (NaN rows = no sample); returns the filtered (and
        predicted) points (K, 2), NaN for viewers lost for longer than ``hold_s``."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim == 1 and p.shape[0] == 2:
            p = p[None]
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"points must be (K, 2), got shape {p.shape}")
        k = len(p)
        self._ensure(k)
        dt = 1.0 / self.fps
        max_gap = int(math.floor(self.hold_s * self.fps + 1e-9))
        sacc = np.zeros(k, bool)
        speed = np.full(k, np.nan)
        for i in range(k):
            ok = bool(np.isfinite(p[i]).all())
            if not ok:
                self._gap[i] += 1
                if self._gap[i] > max_gap:
                    self._x[i] = np.nan
                    self._v[i] = 0.0
                    self._last[i] = np.nan
                continue
            gap = self._gap[i] + 1
            self._gap[i] = 0
            if not np.isfinite(self._x[i]).all():
                self._x[i], self._v[i], self._last[i] = p[i], 0.0, p[i]
                continue
            step = gap * dt
            if np.isfinite(self._last[i]).all():
                speed[i] = float(np.hypot(*(p[i] - self._last[i]))) / self.ppd / step
            self._last[i] = p[i]
            if speed[i] > self.threshold:
                sacc[i] = True
                self._x[i], self._v[i] = p[i], 0.0
                continue
            pred = self._x[i] + self._v[i] * step
            r = p[i] - pred
            self._x[i] = pred + self.alpha * r
            self._v[i] = self._v[i] + (self.beta / step) * r
        self.saccade, self.speed = sacc, speed
        out = self._x + self._v * self.predict_s if self.predict_s else self._x.copy()
        if self.deadzone_px > 0:
            # keep the previous output while the gaze stays within the dead zone (no level flicker
            # during fixations); move at once on saccades and when it leaves the zone
            keep = np.isfinite(self._out).all(axis=1) & np.isfinite(out).all(axis=1) & ~sacc
            keep &= np.hypot(*(out - self._out).T) <= self.deadzone_px
            out[keep] = self._out[keep]
        self._out = out.copy()
        if self.frame_wh is not None:
            out[:, 0] = np.clip(out[:, 0], 0.0, self.frame_wh[0] - 1e-6)
            out[:, 1] = np.clip(out[:, 1], 0.0, self.frame_wh[1] - 1e-6)
        return out


class Smoother:
    """Exponential smoothing of importance maps: ``m_t = a·m_{t−1} + (1 − a)·new``,
    a = exp(−1/(fps·tau_s)); reset to ``new`` on the first frame, on ``reset=True``, on a change of
    map shape, and — when ``gaze`` is passed and ``ppd`` is set — at a saccade of any viewer
    (speed above ``threshold_deg_s`` between successive calls)."""

    def __init__(self, fps: float, *, tau_s: float = 0.1, ppd: float | None = None,
                 threshold_deg_s: float = DEFAULT_THRESHOLD_DEG_S):
        self.fps = _check_pos("fps", float(fps))
        self.tau_s = _check_pos("tau_s", tau_s, allow_zero=True)
        self.ppd = None if ppd is None else _check_pos("ppd", ppd)
        self.threshold = _check_pos("threshold_deg_s", threshold_deg_s)
        self.a = 0.0 if self.tau_s == 0 else math.exp(-1.0 / (self.fps * self.tau_s))
        self._m = None
        self._prev_gaze = None
        self.saccade = False

    def reset(self):
        self._m = None
        self._prev_gaze = None
        self.saccade = False

    def _gaze_saccade(self, gaze) -> bool:
        g = np.asarray(gaze, dtype=np.float64)
        if g.ndim == 1 and g.shape[0] == 2:
            g = g[None]
        if g.ndim != 2 or g.shape[1] != 2:
            raise ValueError(f"gaze must be (K, 2), got shape {g.shape}")
        prev, self._prev_gaze = self._prev_gaze, g.copy()
        if prev is None or self.ppd is None or prev.shape != g.shape:
            return False
        d = np.hypot(*(g - prev).T) / self.ppd * self.fps
        return bool(np.any(np.nan_to_num(d, nan=-1.0) > self.threshold))

    def update(self, m, gaze=None, *, reset: bool = False) -> np.ndarray:
        """Smoothed map (float32, same shape as ``m``)."""
        a = np.asarray(m, dtype=np.float32)
        if not np.isfinite(a).all():
            raise ValueError("importance map contains NaN or inf")
        self.saccade = self._gaze_saccade(gaze) if gaze is not None else False
        if reset or self.saccade or self._m is None or self._m.shape != a.shape or self.a == 0.0:
            self._m = a.copy()
        else:
            self._m = (self.a * self._m + (1.0 - self.a) * a).astype(np.float32)
        return self._m.copy()
