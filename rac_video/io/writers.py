"""Video writer for reconstructions: H.264 at high quality, or lossless FFV1 / x264 qp 0 (RGB).

``VideoWriter(path, width, height, fps, codec="libx264", crf=12)``: ``write(frame)`` takes uint8
RGB (H, W, 3). Any width and height work: libx264 uses yuv420p when both are even and yuv444p
when one is odd (4:2:0 cannot hold odd sizes; the frame size is kept, never padded). The file is
written as a new, unique ``path.<random>.part`` and renamed on ``close()``; any failure (also in
the set-up) and an exception inside ``with`` (or ``abort()``) remove it.

| codec | what | containers |
|---|---|---|
| ``libx264`` | H.264, ``crf`` (default 12), ``preset``, BT.601 limited range, tagged | .mp4 .mov .mkv |
| ``x264-qp0`` | libx264rgb with qp 0: lossless RGB | .mp4 .mov .mkv |
| ``ffv1`` | FFV1 on RGB (bgr0): lossless | .mkv .avi .nut |
"""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np

from .errors import VideoIOError
from .readers import _fraction

__all__ = ["VideoWriter", "CODECS"]

_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".nut": "nut"}
# name -> (FFmpeg encoder, allowed extensions)
CODECS = {
    "libx264": ("libx264", (".mp4", ".mov", ".mkv")),
    "x264-qp0": ("libx264rgb", (".mp4", ".mov", ".mkv")),
    "ffv1": ("ffv1", (".mkv", ".avi", ".nut")),
}
_BT601, _LIMITED = 6, 1  # AVCOL_SPC_SMPTE170M, AVCOL_RANGE_MPEG


class VideoWriter:
    def __init__(self, path, width: int, height: int, fps, *, codec: str = "libx264", crf: int = 12,
                 preset: str = "medium", pix_fmt: str | None = None, options: dict | None = None):
        import av

        self.path = os.fspath(path)
        if codec not in CODECS:
            raise VideoIOError(f"unsupported codec {codec!r}; choose from {', '.join(CODECS)}")
        encoder, exts = CODECS[codec]
        ext = os.path.splitext(self.path)[1].lower()
        if ext not in exts:
            raise VideoIOError(f"codec {codec} cannot be written to a {ext or 'extension-less'} file; "
                               f"use {' / '.join(exts)}")
        for name, v in (("width", width), ("height", height)):
            if not isinstance(v, (int, np.integer)) or not 1 <= v <= 16384:
                raise VideoIOError(f"{name} must be an int in [1, 16384], got {v!r}")
        self.width, self.height, self.codec = int(width), int(height), codec
        self.fps = _fraction(fps, "fps")
        odd = self.width % 2 or self.height % 2
        if codec == "libx264":
            pix_fmt = pix_fmt or ("yuv444p" if odd else "yuv420p")
            if pix_fmt in ("yuv420p", "nv12") and odd:
                raise VideoIOError(f"{pix_fmt} needs an even width and height, got {self.width}x{self.height}; "
                                   "use pix_fmt='yuv444p' (the default for odd sizes)")
            opts = {"crf": str(int(crf)), "preset": preset}
        elif codec == "x264-qp0":
            pix_fmt, opts = pix_fmt or "rgb24", {"qp": "0", "preset": preset}
        else:
            pix_fmt, opts = pix_fmt or "bgr0", {"level": "3", "slicecrc": "1"}
        opts.update({k: str(v) for k, v in (options or {}).items()})
        self.pix_fmt = pix_fmt
        if os.path.isdir(self.path):
            raise VideoIOError(f"cannot write {self.path}: it is a folder")
        from .._atomic import open_temp

        try:  # FFmpeg opens the file only at the first frame: create it (uniquely) now
            f, self._part = open_temp(self.path)
            f.close()
        except OSError as e:
            raise VideoIOError(f"cannot write {self.path}: {e.strerror or e}") from None
        try:
            self._c = av.open(self._part, "w", format=_FORMATS[ext])
        except BaseException as e:
            os.unlink(self._part)
            if isinstance(e, (OSError, av.error.FFmpegError)):
                raise VideoIOError(f"cannot write {self.path}: {getattr(e, 'strerror', None) or e}") from None
            raise
        try:
            s = self._c.add_stream(encoder, rate=self.fps)
            s.width, s.height, s.pix_fmt = self.width, self.height, pix_fmt
            s.time_base = Fraction(1) / self.fps
            s.codec_context.time_base = s.time_base
            s.options = opts
            if pix_fmt.startswith("yuv"):
                s.codec_context.colorspace, s.codec_context.color_range = _BT601, _LIMITED
            s.thread_type = "AUTO"
            self._s = s
        except BaseException as e:  # (OverflowError for a frame rate FFmpeg cannot store, ...)
            self._abort_quiet()
            if isinstance(e, Exception):
                raise VideoIOError(f"cannot set up {codec} ({pix_fmt}) for {self.path}: {e}") from None
            raise
        self.frames_written = 0
        self._closed = False

    def write(self, frame) -> None:
        """Append one uint8 RGB frame of shape (height, width, 3)."""
        import av

        if self._closed:
            raise VideoIOError("write to a closed VideoWriter")
        a = np.asarray(frame)
        if a.dtype != np.uint8:
            raise VideoIOError(f"frames must be uint8 RGB, got dtype {a.dtype}")
        if a.shape != (self.height, self.width, 3):
            raise VideoIOError(f"frame {self.frames_written} has shape {a.shape}, expected "
                               f"({self.height}, {self.width}, 3)")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(a), format="rgb24")
        if self.pix_fmt.startswith("yuv"):
            vf = vf.reformat(format=self.pix_fmt, dst_colorspace="itu601", dst_color_range=_LIMITED)
        vf.pts = self.frames_written
        try:
            self._c.mux(self._s.encode(vf))
        except (OSError, av.error.FFmpegError) as e:
            self.abort()
            raise VideoIOError(f"writing {self.path} failed at frame {self.frames_written}: {e}") from None
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder, finish the file and move it into place."""
        import av

        if self._closed:
            return
        try:
            self._c.mux(self._s.encode(None))
            self._c.close()
            os.replace(self._part, self.path)
        except BaseException as e:
            self.abort()
            if isinstance(e, (OSError, av.error.FFmpegError)):
                raise VideoIOError(f"finishing {self.path} failed: {e}") from None
            raise
        self._closed = True

    def _abort_quiet(self) -> None:
        try:
            self._c.close()
        except Exception:  # the file is being discarded anyway
            pass
        try:
            os.unlink(self._part)
        except FileNotFoundError:
            pass

    def abort(self) -> None:
        """Stop and remove the unfinished temporary file."""
        if not self._closed:
            self._closed = True
            self._abort_quiet()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
