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
  ``rac_video.importance.gaze``) mapped onto the frame (the stimulus filled the tracker's pixel space),
  one gaze point per frame (median of its samples, held up to ``hold_s``); importance from
  ``rac_video.importance.foveation.importance_map`` (options in ``params``) with the trace's display
  geometry unless the sequence gives a ``display`` table. Fixation: that gaze point.

Display geometry (``display = {width_m, width_px, height_px, distance_m}``, default: the GazeCom setup)
follows ``rac_video.importance.foveation.Display``: the frame is shown fitted to the screen.
* ``uniform`` — importance 1 everywhere (no region split); fixation: the frame centre.
* ``centre`` — a Gaussian at the frame centre, σ = 0.22·min(H, W) (``rac_video.eval.images.centre_gaussian``,
  the image tools' map); fixation: the frame centre.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

import numpy as np

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


class SourceError(ValueError):
    """A sequence or importance source that cannot be loaded as configured."""


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
def gaze_points(trace_path, fps, n_frames, frame_hw, *, offset_s=0.0, hold_s=0.1, fmt="auto", **read_kw):
    """Per-frame gaze (n,2) in frame pixels (nan = none) and the trace, through
    ``rac_video.importance.gaze`` (GazeCom y axis counted from the bottom, as that reader documents)."""
    from ..importance import gaze as gz

    trace = gz.read_gaze(trace_path, fmt=fmt, **read_kw)
    H, W = frame_hw
    pts = trace.per_frame(fps, n_frames, (W, H), offset_s=offset_s, hold_s=hold_s)
    return np.asarray(pts, dtype=np.float64), trace


def gaze_importance(points, frame_hw, display, params=None):
    """Importance maps from per-frame gaze with ``rac_video.importance.foveation.importance_map``
    (``params``: its keyword options, e.g. floor, margin_deg); a frame without gaze gets the uniform map."""
    from ..importance import foveation

    T = len(points)
    imp = np.empty((T,) + tuple(frame_hw), np.float32)
    for t in range(T):
        imp[t] = foveation.importance_map(np.asarray(points[t])[None], tuple(frame_hw), display, **(params or {}))
    return imp


def make_display(d: dict | None, default=None):
    """A ``rac_video.importance.foveation.Display`` from a config table (missing keys from ``default``,
    the GazeCom setup unless given)."""
    from ..importance import foveation

    base = default or foveation.GAZECOM_DISPLAY
    d = d or {}
    return foveation.Display(float(d.get("width_m", base.width_m)), int(d.get("width_px", base.width_px)),
                             int(d.get("height_px", base.height_px)), float(d.get("distance_m", base.distance_m)))


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
    d = cfg.get("display")
    display = make_display(d)
    imp_cfg = cfg.get("importance", {"type": "uniform"})
    kind = imp_cfg.get("type", "uniform")
    info = {"source_fps": fps_src, "stride": stride, "importance": dict(imp_cfg)}
    if "roi_threshold" in cfg:
        info["roi_threshold"] = float(cfg["roi_threshold"])
    if kind == "uniform":
        imp = np.ones((T, H, W), np.float32)
        fix = np.tile([[W / 2.0, H / 2.0]], (T, 1))
    elif kind == "centre":
        from .images import centre_gaussian

        imp = np.ascontiguousarray(np.broadcast_to(centre_gaussian(H, W), (T, H, W)))
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
            offset_s=float(imp_cfg.get("offset_s", 0.0)), hold_s=float(imp_cfg.get("hold_s", 0.1)),
            fmt=imp_cfg.get("format", "auto"),
        )
        fix = np.asarray(pts_all, dtype=np.float64)[idx]
        if d is None and trace.display is not None:
            display = trace.display  # the geometry the trace was recorded with
        imp = gaze_importance(fix, (H, W), display, imp_cfg.get("params"))
        info["importance_impl"] = "rac_video.importance.foveation.importance_map"
        info["gaze_valid_frames"] = int(np.isfinite(fix).all(1).sum())
    else:
        raise SourceError(f"unknown importance type {kind!r} (masks, gaze, centre, uniform)")
    info["display"] = {k: getattr(display, k) for k in ("width_m", "width_px", "height_px", "distance_m")}
    info["frame_ppd"] = display.frame_ppd((H, W))
    return Sequence(name, frames, fps_src / stride, imp, fix, display, idx, info)
