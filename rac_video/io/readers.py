"""Video readers: PyAV (any file FFmpeg reads), decord (optional, random access) and folders of
PNG/JPEG images. All yield ``(index, pts_seconds, frame)`` with ``frame`` a uint8 RGB (H, W, 3)
array, starting at ``start`` and stopping after ``max_frames``.

``open_video(spec, backend="auto")``: a folder (or a glob pattern such as ``"dir/*.png"``) is an
image sequence, any other path is opened with PyAV. Image sequences have no frame rate of their
own: ``fps=`` sets it, else ``DEFAULT_IMAGE_FPS`` (30). A file whose stream has no usable rate
falls back to ``fps=`` too, else 30.
"""
from __future__ import annotations

import glob
import os
import re
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

import numpy as np

from .errors import MissingBackendError, VideoIOError

__all__ = ["open_video", "VideoReader", "PyAVReader", "DecordReader", "ImageSequenceReader",
           "DEFAULT_IMAGE_FPS", "IMAGE_EXTENSIONS", "natural_key"]

DEFAULT_IMAGE_FPS = 30
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


def natural_key(name: str):
    """Sort key that orders ``f2.png`` before ``f10.png``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _fraction(fps, what: str) -> Fraction:
    try:
        f = Fraction(fps).limit_denominator(1_000_000) if isinstance(fps, float) else Fraction(fps)
    except (TypeError, ValueError, ZeroDivisionError):
        raise VideoIOError(f"{what} must be a positive number, got {fps!r}") from None
    if f <= 0:
        raise VideoIOError(f"{what} must be positive, got {fps!r}")
    return f


class VideoReader:
    """Common interface. Attributes: ``path``, ``backend``, ``width``, ``height``, ``fps``
    (Fraction), ``num_frames`` (frames this reader will yield, None when the file does not say).
    Iterate for ``(index, pts_seconds, frame)``; ``index`` counts from 0 at the file's first frame
    (so the first one yielded is ``start``). Close with ``close()`` or ``with``."""

    backend = "?"
    path: str
    width: int
    height: int
    fps: Fraction
    num_frames: int | None

    def _init_range(self, start, max_frames, total):
        if not isinstance(start, int) or start < 0:
            raise VideoIOError(f"start must be a non-negative int, got {start!r}")
        if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 0):
            raise VideoIOError(f"max_frames must be a non-negative int or None, got {max_frames!r}")
        self.start, self.max_frames = start, max_frames
        if total is None:
            self.num_frames = None  # the file does not say; max_frames is only an upper bound
        else:
            n = max(0, total - start)
            self.num_frames = n if max_frames is None else min(n, max_frames)

    def _stop(self) -> int | None:
        return None if self.max_frames is None else self.start + self.max_frames

    def __iter__(self):
        raise NotImplementedError

    def read_all(self) -> np.ndarray:
        """All frames as one (N, H, W, 3) uint8 array."""
        frames = [f for _, _, f in self]
        return np.stack(frames) if frames else np.zeros((0, self.height, self.width, 3), np.uint8)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return (f"{type(self).__name__}({self.path!r}, {self.width}x{self.height}, {float(self.fps):g} fps, "
                f"frames={self.num_frames})")


def _check_file(path: str) -> str:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise VideoIOError(f"no such file: {path}")
    if os.path.isdir(path):
        raise VideoIOError(f"{path} is a folder, not a video file")
    if not os.access(path, os.R_OK):
        raise VideoIOError(f"cannot read {path}: permission denied")
    return path


# ------------------------------------------------------------------------------------------ PyAV

class PyAVReader(VideoReader):
    """FFmpeg through PyAV: threaded decoding, exact pts (stream time base), any pixel format
    converted to RGB with the stream's colour matrix and range."""

    backend = "pyav"

    def __init__(self, path, *, fps=None, start: int = 0, max_frames: int | None = None, threads: int = 0):
        import av

        self.path = _check_file(path)
        try:
            self._c = av.open(self.path)
        except (av.error.FFmpegError, UnicodeDecodeError) as e:
            raise VideoIOError(f"cannot open {self.path} as a video: {e}") from None
        try:
            if not self._c.streams.video:
                raise VideoIOError(f"{self.path} has no video stream")
            s = self._c.streams.video[0]
            s.thread_type = "AUTO"
            if threads:
                s.codec_context.thread_count = int(threads)
            self._s = s
            self.width, self.height = s.codec_context.width, s.codec_context.height
            if not self.width or not self.height:
                raise VideoIOError(f"{self.path}: video stream has no frame size (unsupported codec?)")
            rate = s.average_rate or s.guessed_rate
            self.fps = _fraction(fps, "fps") if fps is not None else (
                Fraction(rate) if rate else Fraction(DEFAULT_IMAGE_FPS))
            self.codec = s.codec_context.name
            self._iterated = False
            self._init_range(start, max_frames, s.frames or None)
        except BaseException:
            self._c.close()
            raise

    def __iter__(self):
        import av

        stop = self._stop()
        s, tb = self._s, self._s.time_base
        t0 = s.start_time if s.start_time is not None else None
        i = 0
        try:
            if self._iterated:  # a second pass starts over
                self._c.seek(0)
            self._iterated = True
            for frame in self._c.decode(s):
                if stop is not None and i >= stop:
                    break
                if i >= self.start:
                    yield i, self._pts(frame, i, tb, t0), self._rgb(frame, i)
                i += 1
        except av.error.FFmpegError as e:
            raise VideoIOError(f"{self.path}: decoding failed at frame {i}: {e}") from None

    def _pts(self, frame, i, tb, t0) -> float:
        if frame.pts is None or tb is None:
            return float(i / self.fps)
        return float((frame.pts - (t0 or 0)) * tb)

    def _rgb(self, frame, i) -> np.ndarray:
        kw = {}
        if frame.color_range:  # 1 limited (MPEG), 2 full (JPEG); 0: let swscale decide from the format
            kw["src_color_range"] = int(frame.color_range)
        try:
            a = frame.to_ndarray(format="rgb24", **kw)
        except (ValueError, TypeError) as e:
            raise VideoIOError(f"{self.path}: frame {i} ({frame.format.name}) cannot be converted to RGB: {e}") from None
        if a.shape != (self.height, self.width, 3):  # mid-stream size change: refuse, never silently resize
            raise VideoIOError(f"{self.path}: frame {i} is {a.shape[1]}x{a.shape[0]}, the stream "
                               f"started at {self.width}x{self.height}")
        return a

    def close(self) -> None:
        self._c.close()


# ------------------------------------------------------------------------------------------ decord

def _import_decord():
    try:
        import decord
    except ImportError:
        raise MissingBackendError("the decord backend needs the decord module: `pip install decord2` "
                                  "(or decord 0.6; never both, they install the same module)") from None
    return decord


class DecordReader(VideoReader):
    """decord (random access: ``reader[i]``, ``reader.get_batch(indices)``); frames are read in
    batches of ``batch`` while iterating."""

    backend = "decord"

    def __init__(self, path, *, fps=None, start: int = 0, max_frames: int | None = None, threads: int = 0,
                 batch: int = 8):
        decord = _import_decord()
        self.path = _check_file(path)
        try:
            self._vr = decord.VideoReader(self.path, ctx=decord.cpu(0), num_threads=int(threads))
        except (RuntimeError, decord.DECORDError) as e:
            raise VideoIOError(f"cannot open {self.path} as a video: {str(e).splitlines()[0]}") from None
        self._n = len(self._vr)
        if self._n == 0:
            raise VideoIOError(f"{self.path} has no video frames")
        h, w = self._vr[0].shape[:2]
        self._vr.seek(0)
        self.width, self.height = int(w), int(h)
        rate = self._vr.get_avg_fps()
        self.fps = _fraction(fps, "fps") if fps is not None else (
            Fraction(rate).limit_denominator(1001) if rate and rate > 0 else Fraction(DEFAULT_IMAGE_FPS))
        self.batch = max(1, int(batch))
        self._init_range(start, max_frames, self._n)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> np.ndarray:
        if not -self._n <= i < self._n:
            raise IndexError(f"frame {i} out of range [0, {self._n})")
        return self._vr[i % self._n].asnumpy()

    def get_batch(self, indices) -> np.ndarray:
        return self._vr.get_batch(list(indices)).asnumpy()

    def __iter__(self):
        stop = self._n if self._stop() is None else min(self._n, self._stop())
        for b in range(self.start, stop, self.batch):
            idx = list(range(b, min(stop, b + self.batch)))
            frames = self.get_batch(idx)
            ts = self._vr.get_frame_timestamp(idx)
            for k, i in enumerate(idx):
                yield i, float(ts[k][0]), np.ascontiguousarray(frames[k])

    def close(self) -> None:
        self._vr = None


# ------------------------------------------------------------------------------------------ images

def _load_image(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grey: scale, don't clip
                a = np.asarray(im, dtype=np.uint32)
                a = ((a * 255 + 32767) // 65535).clip(0, 255).astype(np.uint8)
                return np.repeat(a[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as e:
        raise VideoIOError(f"cannot read image {path}: {e}") from None


def _images_in(folder: str) -> list[str]:
    try:
        names = os.listdir(folder)
    except OSError as e:
        raise VideoIOError(f"cannot list {folder}: {e.strerror or e}") from None
    return [os.path.join(folder, f) for f in names
            if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, f))]


class ImageSequenceReader(VideoReader):
    """A folder of PNG/JPEG frames (natural order: f2 before f10) or a glob pattern; a folder
    without images but with exactly one subfolder is read from that subfolder. Every image
    must have the size of the first. Decoding runs ``prefetch`` frames ahead on threads; random
    access with ``reader[i]``."""

    backend = "images"

    def __init__(self, spec, *, fps=None, start: int = 0, max_frames: int | None = None, threads: int = 2,
                 prefetch: int = 4):
        spec = os.fspath(spec)
        if any(c in spec for c in "*?["):
            files = [f for f in glob.glob(spec) if os.path.isfile(f)]
        elif os.path.isdir(spec):
            files = _images_in(spec)
            subs = [os.path.join(spec, d) for d in sorted(os.listdir(spec)) if os.path.isdir(os.path.join(spec, d))]
            if not files and len(subs) == 1:  # e.g. data/video/basketballpass/BasketballPass/
                spec, files = subs[0], _images_in(subs[0])
        else:
            raise VideoIOError(f"no such folder: {spec}")
        if not files:
            raise VideoIOError(f"no PNG/JPEG images in {spec}")
        self.path, self.files = spec, sorted(files, key=lambda p: natural_key(os.path.basename(p)))
        self.fps = _fraction(fps if fps is not None else DEFAULT_IMAGE_FPS, "fps")
        self._init_range(start, max_frames, len(self.files))
        first = self[self.start] if self.start < len(self.files) else self[0]
        self.height, self.width = first.shape[:2]
        self.threads, self.prefetch = max(1, int(threads)), max(1, int(prefetch))

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> np.ndarray:
        a = _load_image(self.files[i])
        if hasattr(self, "width") and a.shape[:2] != (self.height, self.width):
            raise VideoIOError(f"{self.files[i]} is {a.shape[1]}x{a.shape[0]}, the sequence is "
                               f"{self.width}x{self.height}")
        return a

    def __iter__(self):
        stop = len(self.files) if self._stop() is None else min(len(self.files), self._stop())
        with ThreadPoolExecutor(self.threads) as pool:
            pending = deque()
            nxt = self.start
            while nxt < stop or pending:
                while nxt < stop and len(pending) < self.prefetch:
                    pending.append((nxt, pool.submit(self.__getitem__, nxt)))
                    nxt += 1
                i, fut = pending.popleft()
                try:
                    frame = fut.result()
                except BaseException:
                    for _, f in pending:
                        f.cancel()
                    raise
                yield i, float(i / self.fps), frame


# ------------------------------------------------------------------------------------------ entry

BACKENDS = {"pyav": PyAVReader, "decord": DecordReader, "images": ImageSequenceReader}


def open_video(spec, *, backend: str = "auto", fps=None, start: int = 0, max_frames: int | None = None,
               **kw) -> VideoReader:
    """Open a video file or an image sequence. ``backend``: "auto" (folder/glob → images, file →
    PyAV), "pyav", "decord", "images". ``fps`` overrides the rate (needed for image sequences,
    default 30). Raises VideoIOError (MissingBackendError for an absent decord)."""
    if not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"expected a path, got {type(spec).__name__}")
    spec = os.fspath(spec)
    if backend == "auto":
        backend = "images" if (os.path.isdir(spec) or any(c in spec for c in "*?[")) else "pyav"
    if backend not in BACKENDS:
        raise VideoIOError(f"unknown video backend {backend!r}; choose from auto, {', '.join(BACKENDS)}")
    return BACKENDS[backend](spec, fps=fps, start=start, max_frames=max_frames, **kw)
