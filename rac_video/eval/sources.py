"""Evaluation inputs: frames of a sequence, its importance maps and the fixations used by foveated
metrics, all aligned frame by frame.

Frames come from a folder of images (sorted by name) or a video file (PyAV), with ``start``, ``count``
and ``stride`` (frame subsampling: the kept frames form the evaluated sequence, at fps/stride), an
optional integer downscale ``scale`` (area resampling) and a crop to even sizes (4:2:0 baselines).

Importance sources (``{"type": ...}``):

* ``masks`` — per-frame object masks (DAVIS ``Annotations``: PNG, non-zero = object) in a folder whose
  sorted files align with the frames; importance 1 inside, ``background`` (default 0) outside.
  Fixation for the foveated metrics: the mask centroid (no mask: none, i.e. uniform weight).
* ``gaze`` — an eye-tracking trace (GazeCom ``.coord`` and the other formats of
  ``rac_video.importance.gaze``) mapped onto the frame (the video shown full screen), one gaze point
  per frame; importance from ``rac_video.importance.foveation.importance_map`` with the trace's display
  geometry. Fixation: that gaze point.
* ``uniform`` — importance 1 everywhere (no region split); fixation: the frame centre.
"""
from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass, field

import numpy as np

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


class SourceError(ValueError):
    """A sequence or importance source that cannot be loaded as configured."""


@dataclass
class DisplayGeometry:
    """Physical display: the frame fills ``width_m`` metres seen from ``distance_m`` metres."""

    width_m: float = 0.4
    distance_m: float = 0.45
    width_px: int = 1280
    height_px: int = 720


@dataclass
class Sequence:
    name: str
    frames: np.ndarray  # (T,H,W,3) uint8
    fps: float
    importance: np.ndarray  # (T,H,W) float32 in [0,1]
    fixations: np.ndarray  # (T,2) float64 frame pixels, nan = none
    display: object
    frame_indices: list
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- frames
def _list_images(folder):
    files = sorted(f for f in glob.glob(os.path.join(folder, "*")) if f.lower().endswith(IMAGE_EXTS))
    if not files:
        raise SourceError(f"no images in {folder}")
    return files


def _pick(n_total, start, count, stride):
    if stride < 1 or start < 0:
        raise SourceError("stride must be >= 1 and start >= 0")
    idx = list(range(start, n_total, stride))
    if count is not None:
        idx = idx[: int(count)]
    if not idx:
        raise SourceError(f"no frames selected (start={start}, stride={stride}, {n_total} available)")
    return idx


def _resize(img_u8, scale, resample):
    if scale == 1:
        return img_u8
    from PIL import Image

    h, w = img_u8.shape[:2]
    im = Image.fromarray(img_u8)
    return np.asarray(im.resize((w // scale, h // scale), resample))


def _even(a):
    h, w = a.shape[:2]
    return a[: h - h % 2, : w - w % 2]


def load_frames(path, *, start=0, count=None, stride=1, scale=1):
    """(frames (T,H,W,3) uint8, indices, fps or None, files or None)."""
    from PIL import Image

    scale = int(scale)
    if scale < 1:
        raise SourceError("scale must be a positive integer")
    if os.path.isdir(path):
        files = _list_images(path)
        idx = _pick(len(files), start, count, stride)
        frames = [_even(_resize(np.asarray(Image.open(files[i]).convert("RGB")), scale, Image.BOX)) for i in idx]
        return np.stack(frames), idx, None, [files[i] for i in idx]
    if not os.path.isfile(path):
        raise SourceError(f"no such sequence: {path}")
    import av

    with av.open(path) as c:
        st = c.streams.video[0]
        fps = float(st.average_rate) if st.average_rate else None
        frames, idx = [], []
        for i, fr in enumerate(c.decode(st)):
            if i < start or (i - start) % stride:
                continue
            if count is not None and len(frames) >= count:
                break
            frames.append(_even(_resize(fr.to_ndarray(format="rgb24"), scale, Image.BOX)))
            idx.append(i)
    if not frames:
        raise SourceError(f"no frames selected from {path}")
    return np.stack(frames), idx, fps, None


# ---------------------------------------------------------------------------------------------- masks
def masks_importance(folder, indices, frame_hw, background=0.0):
    from PIL import Image

    files = _list_images(folder)
    H, W = frame_hw
    imp = np.empty((len(indices), H, W), np.float32)
    fix = np.full((len(indices), 2), np.nan)
    for k, i in enumerate(indices):
        if i >= len(files):
            raise SourceError(f"mask folder {folder} has no file for frame {i}")
        m = np.asarray(Image.open(files[i]).convert("L"))
        if m.shape != (H, W):
            m = np.asarray(Image.fromarray(m).resize((m.shape[1] * H // m.shape[0], H), Image.NEAREST))[:H, :W]
            if m.shape != (H, W):
                raise SourceError(f"mask {files[i]} does not fit frames of {W}x{H}")
        inside = m > 0
        imp[k] = np.where(inside, 1.0, float(background))
        if inside.any():
            ys, xs = np.nonzero(inside)
            fix[k] = xs.mean() + 0.5, ys.mean() + 0.5
    return imp, fix


# ---------------------------------------------------------------------------------------------- gaze
def _have_importance_pkg():
    try:
        from ..importance import foveation, gaze  # noqa: F401
    except ImportError:
        return False
    return True


def gaze_points(trace_path, fps, n_frames, frame_hw, *, offset_s=0.0, fmt="auto", flip_y=True):
    """Per-frame gaze (n,2) in frame pixels (nan = no valid sample) and the trace (with its display
    geometry), through ``rac_video.importance.gaze``; without that package, GazeCom ``.coord`` files are
    read by the small reader below (``flip_y``: y counted from the bottom edge, as the source repository's
    code treats it)."""
    H, W = frame_hw
    if _have_importance_pkg():
        from ..importance import gaze as gz

        trace = gz.read_gaze(trace_path, fmt=fmt)
        pts = _per_frame(trace, fps, n_frames, (W, H), offset_s)
        return np.asarray(pts, dtype=np.float64), trace
    trace = CoordTrace.read(trace_path, flip_y=flip_y)
    return trace.per_frame(fps, n_frames, (W, H), offset_s=offset_s), trace


@dataclass
class CoordTrace:
    """A GazeCom ``.coord`` trace (fallback reader used only when rac_video.importance is absent):
    t seconds, x, y screen pixels (top-left origin after the optional flip), valid flags, geometry."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    valid: np.ndarray
    width_px: int
    height_px: int
    width_m: float
    distance_m: float

    @classmethod
    def read(cls, path, flip_y=True):
        with open(path) as f:
            head = [f.readline().split(), f.readline().split()]
        try:
            if head[0][0] != "gaze" or head[1][0] != "geometry":
                raise ValueError
            Ws, Hs = int(head[0][1]), int(head[0][2])
            kv = dict(zip(head[1][1::2], map(float, head[1][2::2])))
            d = np.loadtxt(path, skiprows=2, ndmin=2)
        except (ValueError, IndexError) as e:
            raise SourceError(f"{path}: not a GazeCom .coord file ({e})") from None
        if d.shape[1] < 4:
            raise SourceError(f"{path}: expected 4 columns (us, x, y, confidence)")
        x, y = d[:, 1], d[:, 2]
        if flip_y:
            y = Hs - 1 - y
        valid = (d[:, 3] > 0) & (x >= 0) & (x < Ws) & (y >= 0) & (y < Hs) & ~((d[:, 1] == 0) & (d[:, 2] == 0))
        return cls(d[:, 0] / 1e6, x, y, valid, Ws, Hs, kv.get("width", 0.4), kv.get("distance", 0.45))

    def per_frame(self, fps, n_frames, frame_wh, offset_s=0.0):
        """Median of the valid samples shown during each frame, scaled to the frame (nan when none)."""
        W, H = frame_wh
        out = np.full((n_frames, 2), np.nan)
        k = np.floor((self.t - offset_s) * fps).astype(np.int64)
        for i in range(n_frames):
            sel = self.valid & (k == i)
            if sel.any():
                out[i] = np.median(self.x[sel]) * W / self.width_px, np.median(self.y[sel]) * H / self.height_px
        return out


def _per_frame(trace, fps, n_frames, frame_wh, offset_s):
    if offset_s:
        # evaluate the trace from offset_s seconds on: ask for the frames covering [0, offset + n/fps)
        skip = int(round(offset_s * fps))
        pts = trace.per_frame(fps, n_frames + skip, frame_wh)
        return np.asarray(pts)[skip:]
    return trace.per_frame(fps, n_frames, frame_wh)


def _trace_display(trace, default: DisplayGeometry):
    geo = {}
    for k in ("width_m", "distance_m", "width_px", "height_px"):
        v = getattr(trace, k, None)
        if v is None and getattr(trace, "screen", None) is not None:
            v = getattr(trace.screen, k, None)
        if v is not None:
            geo[k] = v
    return DisplayGeometry(**{**default.__dict__, **geo})


def gaze_importance(points, frame_hw, display, params=None):
    """Importance maps from per-frame gaze: ``rac_video.importance.foveation.importance_map`` when that
    package is there; otherwise a Gaussian in eccentricity, exp(-e²/2σ²) with ``sigma_deg`` (default 4°),
    and 0 where there is no gaze. Returns (maps (T,H,W) float32, implementation name)."""
    if not _have_importance_pkg():
        from .metrics import eccentricity_deg

        sigma = float((params or {}).get("sigma_deg", 4.0))
        T = len(points)
        imp = np.zeros((T,) + tuple(frame_hw), np.float32)
        for t in range(T):
            if np.all(np.isfinite(points[t])):
                e = eccentricity_deg(frame_hw, points[t], display)
                imp[t] = np.exp(-0.5 * (e / sigma) ** 2)
        return imp, f"eval-fallback gaussian sigma_deg={sigma:g}"
    from ..importance import foveation

    disp = foveation.Display(display.width_m, display.width_px, display.height_px, display.distance_m)
    T = len(points)
    imp = np.empty((T,) + tuple(frame_hw), np.float32)
    for t in range(T):
        p = points[t]
        pts = np.asarray([p]) if np.all(np.isfinite(p)) else np.zeros((0, 2))
        imp[t] = foveation.importance_map(pts, tuple(frame_hw), disp, **(params or {}))
    return imp, "rac_video.importance.foveation.importance_map"


# ---------------------------------------------------------------------------------------------- config
def load_sequence(cfg: dict, *, max_frames=None) -> Sequence:
    """Build a Sequence from one ``[[sequence]]`` entry of an eval config (see tools/eval_configs)."""
    name = cfg.get("name") or os.path.basename(os.path.normpath(cfg["frames"]))
    count = cfg.get("count")
    if max_frames is not None:
        count = max_frames if count is None else min(count, max_frames)
    stride = int(cfg.get("stride", 1))
    frames, idx, fps_file, _ = load_frames(
        os.path.expanduser(cfg["frames"]), start=int(cfg.get("start", 0)), count=count, stride=stride,
        scale=int(cfg.get("scale", 1)),
    )
    fps_src = float(cfg.get("fps") or fps_file or 25.0)
    T, H, W, _ = frames.shape
    d = cfg.get("display", {})
    display = DisplayGeometry(**{k: d[k] for k in ("width_m", "distance_m", "width_px", "height_px") if k in d})
    imp_cfg = cfg.get("importance", {"type": "uniform"})
    kind = imp_cfg.get("type", "uniform")
    info = {"source_fps": fps_src, "stride": stride, "importance": dict(imp_cfg)}
    if kind == "uniform":
        imp = np.ones((T, H, W), np.float32)
        fix = np.tile([[W / 2.0, H / 2.0]], (T, 1))
    elif kind == "masks":
        imp, fix = masks_importance(
            os.path.expanduser(imp_cfg["dir"]), idx, (H, W), float(imp_cfg.get("background", 0.0))
        )
        if int(cfg.get("scale", 1)) != 1:
            info["masks_resized"] = True
    elif kind == "gaze":
        # frame k of the evaluated sequence is source frame idx[k], shown at time idx[k]/fps_src
        pts_all, trace = gaze_points(
            os.path.expanduser(imp_cfg["trace"]), fps_src, idx[-1] + 1, (H, W),
            offset_s=float(imp_cfg.get("offset_s", 0.0)), fmt=imp_cfg.get("format", "auto"),
            flip_y=bool(imp_cfg.get("flip_y", True)),
        )
        fix = np.asarray(pts_all, dtype=np.float64)[idx]
        display = _trace_display(trace, display) if not d else display
        imp, impl = gaze_importance(fix, (H, W), display, imp_cfg.get("params"))
        info["importance_impl"] = impl
        info["gaze_reader"] = type(trace).__module__ + "." + type(trace).__name__
        info["gaze_valid_frames"] = int(np.isfinite(fix).all(1).sum())
    else:
        raise SourceError(f"unknown importance type {kind!r} (masks, gaze, uniform)")
    info["display"] = dict(display.__dict__)
    return Sequence(name, frames, fps_src / stride, imp, fix, display, idx, info)


def ppd_of(display, frame_width):
    """Pixels per degree at the screen centre for a frame shown across the display width."""
    return frame_width / display.width_m * display.distance_m * math.tan(math.radians(1.0))
