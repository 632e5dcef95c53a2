"""Frame sources for the server: a live synthetic pattern, or a clip (image folder or video file).

A source has ``width``, ``height``, ``fps``, ``count`` (``None``: endless) and ``frame(i)`` for any
non-negative ``i`` (clips wrap around when ``loop`` is set). Clips are read into memory up to
``max_frames`` at open, so that capture in the real-time loop costs no disk or decoder time — like a
camera, a frame is "captured" when the loop takes it.
"""
from __future__ import annotations

import glob
import logging
import os

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["SyntheticSource", "ClipSource", "open_source"]

_IMG = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MAX_BYTES = 2 << 30


class SyntheticSource:
    """A moving test pattern: a scrolling colour gradient with a checkerboard, and a bright square on a
    Lissajous path (so content changes everywhere, every frame)."""

    def __init__(self, width: int = 416, height: int = 240, fps: float = 50.0, count: int | None = None):
        if not (16 <= width <= 8192 and 16 <= height <= 8192):
            raise ValueError(f"synthetic size {width}x{height} out of range 16..8192")
        if not fps > 0:
            raise ValueError("fps must be positive")
        self.width, self.height, self.fps, self.count = int(width), int(height), float(fps), count
        y, x = np.mgrid[0:height, 0:2 * width].astype(np.float32)
        check = (((x // 16) + (y // 16)) % 2) * 40.0
        self._base = np.stack([x / (2 * width) * 200 + check, y / height * 200 + check,
                               (1 - x / (2 * width)) * 200 + check / 2], axis=-1).astype(np.uint8)

    def frame(self, i: int) -> np.ndarray:
        W, H = self.width, self.height
        off = (3 * i) % W
        f = self._base[:, off:off + W].copy()
        s = max(8, min(W, H) // 8)
        cx = int((W - s) * (0.5 + 0.45 * np.sin(i / self.fps * 1.3)))
        cy = int((H - s) * (0.5 + 0.45 * np.sin(i / self.fps * 2.1 + 0.5)))
        f[cy:cy + s, cx:cx + s] = (255, 255, 240)
        return f


class ClipSource:
    def __init__(self, path: str, fps: float | None = None, max_frames: int = 500, loop: bool = True):
        frames, vfps = _read_clip(path, max_frames)
        if not frames:
            raise ValueError(f"no frames in {path}")
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise ValueError(f"frames of different sizes in {path}: {sorted(shapes)[:3]}")
        self.frames = frames
        self.height, self.width = frames[0].shape[:2]
        self.fps = float(fps or vfps or 25.0)
        self.count = None if loop else len(frames)
        self.loop = loop

    def frame(self, i: int) -> np.ndarray:
        if not self.loop and i >= len(self.frames):
            raise IndexError(i)
        return self.frames[i % len(self.frames)]


def _read_clip(path, max_frames):
    if os.path.isdir(path):
        from PIL import Image

        files = sorted(p for p in glob.glob(os.path.join(path, "*")) if p.lower().endswith(_IMG))
        if not files:
            raise ValueError(f"no images in {path}")
        out, total = [], 0
        for p in files[:max_frames]:
            with Image.open(p) as im:
                a = np.asarray(im.convert("RGB"))
            total += a.nbytes
            if total > MAX_BYTES:
                raise ValueError(f"{path}: more than {MAX_BYTES >> 20} MiB of frames; use --max-frames")
            out.append(a)
        return out, None
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    import av

    out, total = [], 0
    try:
        with av.open(path) as c:
            s = c.streams.video[0]
            fps = float(s.average_rate) if s.average_rate else None
            for fr in c.decode(video=0):
                a = fr.to_ndarray(format="rgb24")
                total += a.nbytes
                if total > MAX_BYTES:
                    raise ValueError(f"{path}: more than {MAX_BYTES >> 20} MiB of frames; use --max-frames")
                out.append(a)
                if len(out) >= max_frames:
                    break
    except av.error.FFmpegError as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    return out, fps


def open_source(spec: str, *, size=(416, 240), fps: float | None = None, max_frames: int = 500,
                loop: bool = True):
    """``synthetic`` (live pattern of ``size`` at ``fps`` or 50) or a path (folder of images / video)."""
    if spec == "synthetic":
        return SyntheticSource(size[0], size[1], fps or 50.0)
    return ClipSource(spec, fps=fps, max_frames=max_frames, loop=loop)
