"""Per-frame importance for the video pipeline (the hook encoders, streaming and tools call).

``open_source(spec, frame_hw, fps, ...)`` returns an :class:`ImportanceSource`; call ``step(frame)``
once per frame, in order. Each step gives an :class:`ImportanceFrame` with the importance map
(float32 (H, W) in [0, 1]) and ``side_info(latent_hw)``, the side information to put in the packet
(its ``.levels(latent_hw)`` is exactly what both ends use, its ``.to_bytes()`` what is sent).

Specs (strings, for command lines; options are keyword arguments):

``uniform``                    importance 1 everywhere
``saliency``                   spectral residual of each frame (``saliency.spectral_residual``)
``saliency:PATH``              external saliency maps: image folder, glob or grayscale video
``masks:PATH``                 object masks: image folder or glob (e.g. DAVIS Annotations/<seq>)
``boxes:x0,y0,x1,y1[;...]``    fixed boxes in frame pixels
``faces``                      faces found in each frame (OpenCV Haar cascade; needs
                               opencv-contrib-python-headless), boxes grown by ``grow`` (0.25)
``gaze:PATH[,PATH...]``        eye-tracking traces (one viewer each; any ``gaze.read_gaze`` format,
                               ``gaze_fmt=`` to force one): foveation around the filtered gaze

**Tracker loss** (gaze policy): a sample that is flagged invalid, non-finite (NaN, ±inf) or outside
the frame is not a gaze position. A frame without a usable sample keeps the viewer's last filtered
position for ``hold_s`` (0.25 s); after that the viewer is lost, and a frame with every viewer lost is
coded with the whole frame at top importance (uniform: nothing is degraded on a guess). Such frames
are counted (``ImportanceSource.lost_frames``; ``gaze_lost_frames`` in the encode report, with a
warning). A trace with no usable sample at all is an error.

Map sources are smoothed in time (``temporal.Smoother``, ``tau_s``; masks and boxes are not) and
sent as :class:`~rac_video.importance.sideinfo.RasterLevels`. Gaze sources run each viewer through a
``temporal.GazeFilter`` (jitter removal, jumps at saccades above ``threshold_deg_s``, optional
prediction ``predict_s`` for streaming latency, ``hold_s`` over blinks, a ``deadzone_deg`` = 0.5°
dead zone so the levels stay still during fixations), build the map with
``foveation.importance_map`` and are sent as the parametric
:class:`~rac_video.importance.sideinfo.FoveatedGaze` (tens of bytes). ``background`` (masks, boxes)
is the importance outside the region, ``feather_px`` softens region edges.
"""
from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field

import numpy as np

from . import foveation, gaze, roi, saliency, sideinfo, temporal

__all__ = ["open_source", "ImportanceSource", "ImportanceFrame", "SPEC_KINDS"]

SPEC_KINDS = ("uniform", "saliency", "masks", "boxes", "faces", "gaze")


@dataclass
class ImportanceFrame:
    """One frame's importance: ``map`` (H, W) float32, ``index``, gaze ``points`` (K, 2) or None."""

    index: int
    map: np.ndarray
    levels_count: int
    points: np.ndarray | None = None
    saccade: bool = False
    _gaze_side: object = field(default=None, repr=False)

    def levels(self, latent_hw) -> np.ndarray:
        """The integer level raster both ends use (uint8 (h, w))."""
        return self.side_info(latent_hw).levels(latent_hw)

    def side_info(self, latent_hw) -> sideinfo.SideInfo:
        """Side information for this frame at ``latent_hw``: parametric for gaze, raster otherwise."""
        if self._gaze_side is not None:
            return self._gaze_side
        return sideinfo.RasterLevels(sideinfo.levels_from_importance(self.map, latent_hw, self.levels_count),
                                     self.levels_count)


class ImportanceSource:
    """Stateful per-frame importance (see the module doc). ``kind`` is one of ``SPEC_KINDS``."""

    def __init__(self, kind, frame_hw, fps, *, levels=16, tau_s=0.1):
        if kind not in SPEC_KINDS:
            raise ValueError(f"unknown importance kind {kind!r}; one of {SPEC_KINDS}")
        H, W = (int(v) for v in frame_hw)
        if H <= 0 or W <= 0:
            raise ValueError(f"frame_hw must be positive, got {frame_hw!r}")
        if not float(fps) > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.kind, self.frame_hw, self.fps, self.levels = kind, (H, W), float(fps), int(levels)
        sideinfo._check_levels(self.levels)
        self.index = 0
        self._smoother = temporal.Smoother(self.fps, tau_s=tau_s) if kind == "saliency" else None

    def step(self, frame=None) -> ImportanceFrame:
        """Importance of the next frame (``frame``: RGB uint8 (H, W, 3); needed by ``saliency``)."""
        out = self._step(frame)
        self.index += 1
        return out

    def _step(self, frame):  # pragma: no cover - replaced per kind
        raise NotImplementedError


class _Uniform(ImportanceSource):
    def __init__(self, frame_hw, fps, **kw):
        super().__init__("uniform", frame_hw, fps, **kw)

    def _step(self, frame):
        return ImportanceFrame(self.index, np.ones(self.frame_hw, np.float32), self.levels)


class _Saliency(ImportanceSource):
    def __init__(self, path, frame_hw, fps, *, width=64, sigma=2.5, **kw):
        super().__init__("saliency", frame_hw, fps, **kw)
        self.seq = saliency.SaliencySequence(path, frame_hw) if path else None
        self.opts = {"width": width, "sigma": sigma}

    def _step(self, frame):
        if self.seq is not None:
            if self.index >= len(self.seq):
                raise ValueError(f"external saliency has {len(self.seq)} maps, frame {self.index} asked")
            m = self.seq[self.index]
        else:
            if frame is None:
                raise ValueError("saliency needs the frame")
            f = np.asarray(frame)
            if f.shape[:2] != self.frame_hw:
                raise ValueError(f"frame {f.shape[:2]} does not match the source's {self.frame_hw}")
            m = saliency.spectral_residual(f, **self.opts)
        return ImportanceFrame(self.index, self._smoother.update(m), self.levels)


class _Masks(ImportanceSource):
    def __init__(self, path, frame_hw, fps, *, background=0.1, feather_px=8.0, **kw):
        super().__init__("masks", frame_hw, fps, **kw)
        self.seq = roi.masks(path, frame_hw, feather_px=feather_px, background=background)

    def _step(self, frame):
        if self.index >= len(self.seq):
            raise ValueError(f"mask sequence has {len(self.seq)} masks, frame {self.index} asked")
        return ImportanceFrame(self.index, self.seq[self.index], self.levels)


class _Boxes(ImportanceSource):
    def __init__(self, boxes, frame_hw, fps, *, background=0.1, feather_px=8.0, **kw):
        super().__init__("boxes", frame_hw, fps, **kw)
        self.m = roi.boxes(boxes, frame_hw, background=background, feather_px=feather_px)

    def _step(self, frame):
        return ImportanceFrame(self.index, self.m.copy(), self.levels)


class _Faces(ImportanceSource):
    def __init__(self, frame_hw, fps, *, background=0.1, feather_px=8.0, grow=0.25, **kw):
        super().__init__("faces", frame_hw, fps, **kw)
        saliency._cv2()  # fail early with MissingDependency when OpenCV is absent
        self.background, self.feather_px, self.grow = background, feather_px, float(grow)

    def _step(self, frame):
        if frame is None:
            raise ValueError("faces needs the frame")
        f = np.asarray(frame)
        if f.shape[:2] != self.frame_hw:
            raise ValueError(f"frame {f.shape[:2]} does not match the source's {self.frame_hw}")
        b = saliency.detect_faces(f).astype(np.float64)
        if len(b):
            gw, gh = (b[:, 2] - b[:, 0]) * self.grow, (b[:, 3] - b[:, 1]) * self.grow
            b = b + np.stack([-gw, -gh, gw, gh], 1)
        m = roi.boxes(b, self.frame_hw, background=self.background, feather_px=self.feather_px)
        return ImportanceFrame(self.index, m, self.levels)


class _Gaze(ImportanceSource):
    def __init__(self, paths, frame_hw, fps, *, display=None, params=None, gaze_fmt="auto", offset_s=0.0,
                 gaze_tau_s=0.04, threshold_deg_s=temporal.DEFAULT_THRESHOLD_DEG_S, predict_s=0.0, hold_s=0.25,
                 deadzone_deg=0.5, **kw):
        super().__init__("gaze", frame_hw, fps, **kw)
        if not paths:
            raise ValueError("gaze source needs at least one trace")
        self.traces = [gaze.read_gaze(p, fmt=gaze_fmt) for p in paths]
        self.display = display or self.traces[0].display or foveation.GAZECOM_DISPLAY
        if isinstance(params, dict):
            params = foveation.FoveationParams(**params)
        self.params = params or foveation.FoveationParams()
        H, W = self.frame_hw
        # per trace: the frame number of each usable sample (sorted, as the times are), looked up per
        # frame (memory grows with the file, not with the time stamps: a trace that claims to last
        # 10^9 s costs nothing). Unusable = flagged invalid, non-finite or outside the frame.
        self._samples = []
        for p, tr in zip(paths, self.traces):
            x, y = tr.scaled((W, H))
            ok = tr.valid & np.isfinite(x) & np.isfinite(y) & (x >= 0) & (x < W) & (y >= 0) & (y < H)
            if not ok.any():
                raise gaze.GazeError(f"{p}: no usable gaze sample (all invalid, non-finite or off-screen)")
            k = np.floor(np.clip((tr.t[ok] - offset_s) * self.fps + 1e-9, -1, 2.0**62))
            self._samples.append((k.astype(np.int64), x[ok], y[ok]))
        self.lost_frames = 0  # frames whose map had no gaze (tracker loss longer than hold_s)
        ppd = self.display.frame_ppd(self.frame_hw)
        self.filter = temporal.GazeFilter(self.fps, ppd, tau_s=gaze_tau_s, threshold_deg_s=threshold_deg_s,
                                          predict_s=predict_s, hold_s=hold_s, frame_wh=(W, H),
                                          deadzone_deg=deadzone_deg)

    def _raw_at(self, i: int) -> np.ndarray:
        """(viewers, 2) gaze of frame i: the median of its samples (as ``GazeTrace.per_frame``), NaN if none."""
        out = np.full((len(self._samples), 2), np.nan)
        for v, (k, x, y) in enumerate(self._samples):
            a, b = np.searchsorted(k, i, "left"), np.searchsorted(k, i, "right")
            if b > a:
                out[v] = np.median(x[a:b]), np.median(y[a:b])
        return out

    def _step(self, frame):
        pts = self.filter.update(self._raw_at(self.index))
        valid = pts[np.isfinite(pts).all(axis=1)]
        if not len(valid):
            self.lost_frames += 1
        m = foveation.importance_map(valid, self.frame_hw, self.display, self.params)
        side = sideinfo.FoveatedGaze(valid, self.frame_hw, self.params, display=self.display, n_levels=self.levels)
        return ImportanceFrame(self.index, m, self.levels, points=pts, saccade=bool(self.filter.saccade.any()),
                               _gaze_side=side)


def _parse_boxes(s: str):
    out = []
    for part in s.split(";"):
        if not part.strip():
            continue
        vals = part.split(",")
        if len(vals) != 4:
            raise ValueError(f"box {part!r}: expected x0,y0,x1,y1")
        try:
            out.append([float(v) for v in vals])
        except ValueError:
            raise ValueError(f"box {part!r}: not numbers") from None
    if not out:
        raise ValueError("boxes: none given")
    return out


def open_source(spec: str, frame_hw, fps, **kw) -> ImportanceSource:
    """An :class:`ImportanceSource` from a spec string (see the module doc)."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"importance spec must be a non-empty string, got {spec!r}")
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "uniform":
        return _Uniform(frame_hw, fps, **kw)
    if kind == "saliency":
        return _Saliency(arg or None, frame_hw, fps, **kw)
    if kind == "masks":
        if not arg:
            raise ValueError("masks:PATH needs a path")
        return _Masks(arg, frame_hw, fps, **kw)
    if kind == "boxes":
        return _Boxes(_parse_boxes(arg), frame_hw, fps, **kw)
    if kind == "faces":
        return _Faces(frame_hw, fps, **kw)
    if kind == "gaze":
        paths = []
        for p in (q for q in arg.split(",") if q):
            hits = sorted(glob.glob(p)) if any(c in p for c in "*?[") else [p]
            if not hits:
                raise ValueError(f"gaze: no file matches {p!r}")
            paths.extend(hits)
        for p in paths:
            if not os.path.isfile(p):
                raise ValueError(f"gaze: no such file {p!r}")
        return _Gaze(paths, frame_hw, fps, **kw)
    raise ValueError(f"unknown importance spec {spec!r}; kinds: {', '.join(SPEC_KINDS)}")
