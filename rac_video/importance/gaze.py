"""Eye-tracker readers and per-frame gaze.

Every reader returns a :class:`GazeTrace`: sample times ``t`` (seconds from the start of the
stimulus), gaze ``x``, ``y`` in the trace's pixel space with the origin at the **top-left** corner and
y pointing down, a ``valid`` mask, and the pixel space / display geometry when the file says it.

Formats (``read_gaze(path, fmt=...)``; ``fmt="auto"`` looks at the file):

``gazecom``
    GazeCom ``.coord``: line 1 ``gaze W H`` (screen pixels), line 2 ``geometry distance D width Wm
    height Hm`` (metres), then ``timestamp_us x y confidence`` at 250 Hz; confidence 1 = valid.
    GazeCom's y axis points **up** (origin at the bottom-left corner, as the code of the repository
    these files come from treats it: ``row = H - y - 1``); the reader flips it (``y_up=True``), pass
    ``y_up=False`` to keep the raw values.
``diem``
    DIEM ``event_data`` text: tab-separated, one row per video frame: ``frame left_x left_y
    left_pupil left_event right_x right_y right_pupil right_event`` (video pixels, frame numbers from
    1, ``fps`` = 30 by default). Event codes: -1 lost, 0 blink, 1 fixation, 2 saccade. An eye's sample
    is valid when its event is 1 or 2 and its position is inside the video; the trace position is the
    mean of the valid eyes. ``trace.events`` holds the combined label (2 when a valid eye is in a
    saccade, else 1 when one fixates, else the lowest code), ``trace.extra`` the per-eye columns. The
    video size comes from a ``_WxH`` suffix in the file name (or ``screen_wh``). In the staged DIEM
    files the right-eye event column only holds -1/0/1 (never 2): saccade labels come from the left eye.
``csv`` (also ``tsv``)
    A generic table with a header row naming the columns (case-insensitive): time ``t`` / ``time`` /
    ``timestamp``, ``x``, ``y``, optional ``valid`` / ``confidence`` (> 0 means valid). Delimiter:
    comma, tab, semicolon or whitespace (detected). Lines starting with ``#`` are comments.
    Options: ``time_unit`` ("s", "ms", "us", "ns"), ``coords`` ("px" or "norm" — normalised 0..1, needs
    ``screen_wh``), ``origin`` ("top-left", "bottom-left" — needs ``screen_wh`` — or "center", needs
    ``screen_wh``), ``screen_wh`` (the pixel space of x, y), ``display`` (a ``foveation.Display``).

Samples with NaN coordinates or outside the pixel space (when it is known) are invalid. Malformed
files raise :class:`GazeError` (a ``ValueError``) naming the file and line.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidInputError
from .foveation import Display

__all__ = ["GazeError", "GazeTrace", "read_gaze", "read_gazecom", "read_diem", "read_csv", "FORMATS",
           "MEASURED", "HELD", "MISSING"]

FORMATS = ("auto", "gazecom", "diem", "csv", "tsv")
MEASURED, HELD, MISSING = 0, 1, 2  # per-frame flags


class GazeError(InvalidInputError):
    """Malformed or unusable gaze file / arguments."""


@dataclass
class GazeTrace:
    """Gaze samples: ``t`` seconds, ``x``/``y`` pixels (top-left origin), ``valid`` bool; the pixel
    space ``width_px``×``height_px`` and the display geometry (``width_m``, ``distance_m``) when known."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    width_px: int | None = None
    height_px: int | None = None
    width_m: float | None = None
    distance_m: float | None = None
    height_m: float | None = None
    events: np.ndarray | None = None
    fmt: str = ""
    source: str = ""
    extra: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        n = len(self.t)
        for name in ("x", "y", "valid"):
            if len(getattr(self, name)) != n:
                raise GazeError(f"GazeTrace.{name} has {len(getattr(self, name))} samples, t has {n}")
        if self.events is not None and len(self.events) != n:
            raise GazeError("GazeTrace.events length differs from t")

    def __len__(self):
        return len(self.t)

    @property
    def display(self) -> Display | None:
        """The viewing setup when the file gives it (GazeCom), else None."""
        if None in (self.width_px, self.height_px, self.width_m, self.distance_m):
            return None
        return Display(float(self.width_m), int(self.width_px), int(self.height_px), float(self.distance_m))

    @property
    def sample_rate(self) -> float:
        """Median sampling rate (Hz) from the time stamps."""
        if len(self.t) < 2:
            return float("nan")
        dt = np.diff(self.t)
        dt = dt[dt > 0]
        return float(1.0 / np.median(dt)) if len(dt) else float("nan")

    def scaled(self, frame_wh):
        """(x, y) scaled from the trace's pixel space onto a frame of ``frame_wh`` = (W, H) pixels
        (the stimulus filled the pixel space). Unknown pixel space: unchanged."""
        W, H = _wh(frame_wh)
        sx = W / self.width_px if self.width_px else 1.0
        sy = H / self.height_px if self.height_px else 1.0
        return self.x * sx, self.y * sy

    def per_frame(self, fps, n_frames, frame_wh, *, offset_s: float = 0.0, hold_s: float = 0.0,
                  return_flags: bool = False):
        """Gaze per video frame: (n_frames, 2) float64 frame pixels, NaN where missing.

        Frame i covers [offset_s + i/fps, offset_s + (i+1)/fps); its gaze is the median of the valid
        samples in that interval (x and y separately). Frames without a valid sample keep the last
        measured value for up to ``hold_s`` seconds (flag HELD), after that they are NaN (MISSING).
        ``return_flags=True`` also returns the int8 flags (MEASURED / HELD / MISSING)."""
        try:
            fps_f = float(fps)
        except (TypeError, ValueError):
            raise GazeError(f"fps must be a number, got {fps!r}") from None
        if isinstance(fps, bool) or not (math.isfinite(fps_f) and fps_f > 0):
            raise GazeError(f"fps must be positive, got {fps!r}")
        fps = fps_f
        if isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 0:
            raise GazeError(f"n_frames must be a non-negative integer, got {n_frames!r}")
        if not (math.isfinite(hold_s) and hold_s >= 0):
            raise GazeError(f"hold_s must be >= 0, got {hold_s!r}")
        x, y = self.scaled(frame_wh)
        out = np.full((n_frames, 2), np.nan)
        flags = np.full(n_frames, MISSING, np.int8)
        ok = self.valid & np.isfinite(x) & np.isfinite(y)
        # + 1e-9: a sample on a frame boundary (t = i/fps up to rounding) belongs to frame i
        k = np.floor((self.t[ok] - offset_s) * fps + 1e-9).astype(np.int64)
        xs, ys = x[ok], y[ok]
        inside = (k >= 0) & (k < n_frames)
        k, xs, ys = k[inside], xs[inside], ys[inside]
        if len(k):
            order = np.argsort(k, kind="stable")
            k, xs, ys = k[order], xs[order], ys[order]
            frames, starts = np.unique(k, return_index=True)
            ends = np.append(starts[1:], len(k))
            for f, s, e in zip(frames.tolist(), starts.tolist(), ends.tolist()):
                out[f] = np.median(xs[s:e]), np.median(ys[s:e])
            flags[frames] = MEASURED
        if hold_s > 0:
            max_hold = int(math.floor(hold_s * fps + 1e-9))
            last, since = None, 0
            for i in range(n_frames):
                if flags[i] == MEASURED:
                    last, since = out[i].copy(), 0
                elif last is not None and since < max_hold:
                    since += 1
                    out[i] = last
                    flags[i] = HELD
                else:
                    since += 1
        return (out, flags) if return_flags else out


def _wh(frame_wh):
    try:
        W, H = (int(v) for v in frame_wh)
    except (TypeError, ValueError):
        raise GazeError(f"frame_wh must be (width, height), got {frame_wh!r}") from None
    if W <= 0 or H <= 0:
        raise GazeError(f"frame_wh must be positive, got {frame_wh!r}")
    return W, H


def _inside(x, y, W, H):
    return (x >= 0) & (x < W) & (y >= 0) & (y < H)


def _read_lines(path):
    try:
        with open(path, "r", encoding="utf-8", errors="strict") as f:
            return f.read().splitlines()
    except UnicodeDecodeError:
        raise GazeError(f"{path}: not a text file") from None
    except OSError as e:
        raise GazeError(f"{path}: cannot read ({e.strerror or e})") from None


def _numbers(lines, first_lineno, ncols_min, path, sep=None):
    """Parse rows of numbers; returns float64 (n, ncols) (rows must all have the same count)."""
    rows = []
    ncols = None
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = s.split(sep) if sep else s.split()
        if ncols is None:
            ncols = len(parts)
            if ncols < ncols_min:
                raise GazeError(f"{path}:{first_lineno + i}: expected at least {ncols_min} columns, got {ncols}")
        elif len(parts) != ncols:
            raise GazeError(f"{path}:{first_lineno + i}: expected {ncols} columns, got {len(parts)}")
        try:
            rows.append([float(p) for p in parts])
        except ValueError:
            raise GazeError(f"{path}:{first_lineno + i}: not a number in {s[:60]!r}") from None
    if not rows:
        raise GazeError(f"{path}: no samples")
    return np.asarray(rows, dtype=np.float64)


def _check_time(t, path):
    if not np.isfinite(t).all():
        raise GazeError(f"{path}: non-finite time stamps")
    if len(t) > 1 and np.any(np.diff(t) < 0):
        raise GazeError(f"{path}: time stamps go backwards")


# ---------------------------------------------------------------------------------------------- GazeCom
def read_gazecom(path, *, y_up: bool = True) -> GazeTrace:
    """GazeCom ``.coord`` file (see the module doc)."""
    lines = _read_lines(path)
    if len(lines) < 3:
        raise GazeError(f"{path}: too short for a GazeCom .coord file")
    h0, h1 = lines[0].split(), lines[1].split()
    if len(h0) != 3 or h0[0] != "gaze":
        raise GazeError(f"{path}:1: expected 'gaze W H', got {lines[0][:60]!r}")
    try:
        W, H = int(h0[1]), int(h0[2])
    except ValueError:
        raise GazeError(f"{path}:1: bad screen size {lines[0][:60]!r}") from None
    if W <= 0 or H <= 0:
        raise GazeError(f"{path}:1: screen size must be positive")
    if not h1 or h1[0] != "geometry" or len(h1) % 2 != 1:
        raise GazeError(f"{path}:2: expected 'geometry distance D width W height H', got {lines[1][:60]!r}")
    try:
        geo = {k: float(v) for k, v in zip(h1[1::2], h1[2::2])}
    except ValueError:
        raise GazeError(f"{path}:2: bad geometry values") from None
    for k in ("distance", "width"):
        if k not in geo or not (math.isfinite(geo[k]) and geo[k] > 0):
            raise GazeError(f"{path}:2: geometry needs a positive {k!r}")
    d = _numbers(lines[2:], 3, 4, path)
    if d.shape[1] != 4:
        raise GazeError(f"{path}: expected 4 columns (us, x, y, confidence), got {d.shape[1]}")
    t = d[:, 0] / 1e6
    _check_time(t, path)
    x = d[:, 1]
    y = (H - d[:, 2]) if y_up else d[:, 2].copy()
    valid = (d[:, 3] > 0) & np.isfinite(x) & np.isfinite(y) & _inside(x, y, W, H)
    return GazeTrace(t, x, y, valid, W, H, geo["width"], geo["distance"], geo.get("height"), None,
                     "gazecom", os.fspath(path), {"confidence": d[:, 3], "y_up": y_up})


# ---------------------------------------------------------------------------------------------- DIEM
_WH_RE = re.compile(r"_(\d{2,5})x(\d{2,5})(?:\D|$)")


def read_diem(path, *, fps: float = 30.0, screen_wh=None) -> GazeTrace:
    """DIEM ``event_data`` file (see the module doc)."""
    if not (math.isfinite(fps) and fps > 0):
        raise GazeError(f"fps must be positive, got {fps!r}")
    if screen_wh is None:
        m = _WH_RE.search(os.path.basename(os.fspath(path)))
        screen_wh = (int(m.group(1)), int(m.group(2))) if m else None
    if screen_wh is not None:
        W, H = _wh(screen_wh)
    else:
        W = H = None
    d = _numbers(_read_lines(path), 1, 9, path, sep="\t")
    if d.shape[1] != 9:
        raise GazeError(f"{path}: expected 9 tab-separated columns, got {d.shape[1]}")
    frame = d[:, 0]
    if np.any(frame != np.round(frame)) or np.any(frame < 0):
        raise GazeError(f"{path}: frame numbers must be non-negative integers")
    t = (frame - 1) / fps
    _check_time(t, path)
    ev = d[:, [4, 8]]
    if np.any(ev != np.round(ev)) or np.any((ev < -1) | (ev > 2)):
        raise GazeError(f"{path}: event codes must be -1, 0, 1 or 2")
    ev = ev.astype(np.int8)
    xs, ys = d[:, [1, 5]], d[:, [2, 6]]
    ok = (ev >= 1) & np.isfinite(xs) & np.isfinite(ys) & ~((xs == 0) & (ys == 0))
    if W is not None:
        ok &= _inside(xs, ys, W, H)
    n_ok = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(n_ok > 0, np.where(ok, xs, 0).sum(axis=1) / np.maximum(n_ok, 1), np.nan)
        y = np.where(n_ok > 0, np.where(ok, ys, 0).sum(axis=1) / np.maximum(n_ok, 1), np.nan)
    sacc = ((ev == 2) & ok).any(axis=1)
    fix = ((ev == 1) & ok).any(axis=1)
    events = np.where(sacc, 2, np.where(fix, 1, ev.min(axis=1))).astype(np.int8)
    extra = {"frame": frame.astype(np.int64), "left_xy": d[:, 1:3], "right_xy": d[:, 5:7],
             "left_pupil": d[:, 3], "right_pupil": d[:, 7], "left_event": ev[:, 0], "right_event": ev[:, 1],
             "left_valid": ok[:, 0], "right_valid": ok[:, 1], "fps": fps}
    return GazeTrace(t, x, y, n_ok > 0, W, H, None, None, None, events, "diem", os.fspath(path), extra)


# ---------------------------------------------------------------------------------------------- CSV
_TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_COL_ALIASES = {"t": ("t", "time", "timestamp", "time_s", "time_ms", "time_us"),
                "x": ("x", "gaze_x", "x_px"), "y": ("y", "gaze_y", "y_px"),
                "valid": ("valid", "validity", "confidence")}


def read_csv(path, *, time_unit: str = "s", coords: str = "px", origin: str = "top-left", screen_wh=None,
             display: Display | None = None, delimiter: str | None = None) -> GazeTrace:
    """Generic CSV / TSV gaze table (see the module doc)."""
    if time_unit not in _TIME_UNITS:
        raise GazeError(f"time_unit must be one of {sorted(_TIME_UNITS)}, got {time_unit!r}")
    if coords not in ("px", "norm"):
        raise GazeError(f"coords must be 'px' or 'norm', got {coords!r}")
    if origin not in ("top-left", "bottom-left", "center"):
        raise GazeError(f"origin must be 'top-left', 'bottom-left' or 'center', got {origin!r}")
    if screen_wh is None and display is not None:
        screen_wh = (display.width_px, display.height_px)
    W, H = _wh(screen_wh) if screen_wh is not None else (None, None)
    if W is None and (coords == "norm" or origin != "top-left"):
        raise GazeError(f"coords={coords!r} / origin={origin!r} need screen_wh (the pixel space)")
    lines = _read_lines(path)
    body = [(i, ln) for i, ln in enumerate(lines, 1) if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise GazeError(f"{path}: empty")
    hline_no, header = body[0]
    sep = delimiter
    if sep is None:
        for cand in ("\t", ",", ";"):
            if cand in header:
                sep = cand
                break
    names = [c.strip().strip('"').lower() for c in (header.split(sep) if sep else header.split())]
    idx = {}
    for key, aliases in _COL_ALIASES.items():
        for a in aliases:
            if a in names:
                idx[key] = names.index(a)
                break
    missing = [k for k in ("t", "x", "y") if k not in idx]
    if missing:
        raise GazeError(f"{path}:{hline_no}: header must name columns t/time, x, y; missing {missing} in {names}")
    rows = []
    for lineno, ln in body[1:]:
        parts = [p.strip().strip('"') for p in (ln.split(sep) if sep else ln.split())]
        if len(parts) != len(names):
            raise GazeError(f"{path}:{lineno}: expected {len(names)} fields, got {len(parts)}")
        try:
            rows.append([float(parts[idx[k]]) if parts[idx[k]] != "" else math.nan
                         for k in ("t", "x", "y")] +
                        ([_bool(parts[idx["valid"]])] if "valid" in idx else [1.0]))
        except ValueError:
            raise GazeError(f"{path}:{lineno}: not a number in {ln.strip()[:60]!r}") from None
    if not rows:
        raise GazeError(f"{path}: no samples")
    d = np.asarray(rows, dtype=np.float64)
    t = d[:, 0] * _TIME_UNITS[time_unit]
    _check_time(t, path)
    x, y = d[:, 1].copy(), d[:, 2].copy()
    if coords == "norm":
        x, y = x * W, y * H
    if origin == "bottom-left":
        y = H - y
    elif origin == "center":
        x, y = x + W / 2, y + H / 2
    valid = (d[:, 3] > 0) & np.isfinite(x) & np.isfinite(y)
    if W is not None:
        valid &= _inside(x, y, W, H)
    geo = (display.width_m, display.distance_m) if display is not None else (None, None)
    return GazeTrace(t, x, y, valid, W, H, geo[0], geo[1], None, None, "csv", os.fspath(path),
                     {"columns": names})


def _bool(s: str) -> float:
    v = s.strip().lower()
    if v in ("true", "yes"):
        return 1.0
    if v in ("false", "no", ""):
        return 0.0
    return float(v)


# ---------------------------------------------------------------------------------------------- auto
def _sniff(path) -> str:
    p = os.fspath(path)
    if p.lower().endswith(".coord"):
        return "gazecom"
    try:
        with open(p, "r", encoding="utf-8", errors="replace") as f:
            head = [f.readline() for _ in range(3)]
    except OSError as e:
        raise GazeError(f"{p}: cannot read ({e.strerror or e})") from None
    if head[0].split()[:1] == ["gaze"] and head[1].split()[:1] == ["geometry"]:
        return "gazecom"
    first = head[0].strip().split("\t")
    if len(first) == 9:
        try:
            [float(v) for v in first]
            return "diem"
        except ValueError:
            pass
    return "csv"


def read_gaze(path, fmt: str = "auto", **kw) -> GazeTrace:
    """Read a gaze file; ``fmt`` one of ``FORMATS``; keyword options go to the format's reader."""
    if fmt not in FORMATS:
        raise GazeError(f"unknown gaze format {fmt!r}; one of {FORMATS}")
    if not os.path.isfile(os.fspath(path)):
        raise GazeError(f"{path}: no such file")
    if fmt == "auto":
        fmt = _sniff(path)
    if fmt == "gazecom":
        return read_gazecom(path, **kw)
    if fmt == "diem":
        return read_diem(path, **kw)
    if fmt == "tsv":
        kw.setdefault("delimiter", "\t")
    return read_csv(path, **kw)
