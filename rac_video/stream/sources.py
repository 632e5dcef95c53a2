"""Frame sources for the server: a live synthetic pattern, or a clip (image folder or video file).

A source has ``width``, ``height``, ``fps``, ``count`` (``None``: endless) and ``frame(i)`` for any
non-negative ``i`` (clips wrap around when ``loop`` is set). Clips are read into memory up to
``max_frames`` at open, so that capture in the real-time loop costs no disk or decoder time — like a
camera, a frame is "captured" when the loop takes it.
"""
from __future__ import annotations

import logging
import os

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["SyntheticSource", "ClipSource", "open_source"]

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
    """A clip read with :func:`rac_video.io.open_video` (image folder, glob or video file)."""

    def __init__(self, path: str, fps: float | None = None, max_frames: int = 500, loop: bool = True):
        from ..io import open_video

        if not os.path.exists(path) and not any(c in path for c in "*?["):
            raise FileNotFoundError(path)
        frames, total = [], 0
        with open_video(path, fps=fps, max_frames=max_frames) as r:
            self.fps = float(r.fps)
            for _, _, a in r:
                total += a.nbytes
                if total > MAX_BYTES:
                    raise ValueError(f"{path}: more than {MAX_BYTES >> 20} MiB of frames; use --max-frames")
                frames.append(a)
        if not frames:
            raise ValueError(f"no frames in {path}")
        self.frames = frames
        self.height, self.width = frames[0].shape[:2]
        self.count = None if loop else len(frames)
        self.loop = loop

    def frame(self, i: int) -> np.ndarray:
        if not self.loop and i >= len(self.frames):
            raise IndexError(i)
        return self.frames[i % len(self.frames)]


def open_source(spec: str, *, size=(416, 240), fps: float | None = None, max_frames: int = 500,
                loop: bool = True):
    """``synthetic`` (live pattern of ``size`` at ``fps`` or 50) or a path (folder of images / video)."""
    if spec == "synthetic":
        return SyntheticSource(size[0], size[1], fps or 50.0)
    return ClipSource(spec, fps=fps, max_frames=max_frames, loop=loop)
