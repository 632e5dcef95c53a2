"""Saliency maps: a weight-free classical default, optional OpenCV methods, external map sequences.

* :func:`spectral_residual` — Hou & Zhang's spectral residual on a downscaled luma frame (numpy FFT):
  log amplitude spectrum minus its local (3×3) mean, back-transformed with the original phase,
  squared, Gaussian-blurred, normalised to [0, 1] and resized to the frame.
* :func:`opencv_saliency` / :func:`detect_faces` — OpenCV's saliency module and Haar face cascade,
  only when ``opencv-contrib-python-headless<5`` is installed (imported on first use;
  :class:`MissingDependency` otherwise).
* :class:`SaliencySequence` — externally computed maps from a directory of grayscale images or a
  grayscale video (PyAV), read lazily, resized to the frame size, values in [0, 1].
"""
from __future__ import annotations

import glob
import os

import numpy as np

from ._resample import gaussian_blur, luma, normalize01, read_image, resize_map

__all__ = ["spectral_residual", "opencv_saliency", "detect_faces", "SaliencySequence", "MissingDependency",
           "IMAGE_EXTS"]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".webp")


class MissingDependency(ImportError):
    """An optional package needed for this function is not installed."""


def spectral_residual(frame, *, width: int = 64, sigma: float = 2.5, box: int = 3) -> np.ndarray:
    """Spectral-residual saliency (H, W) float32 in [0, 1] of an RGB uint8 frame (or gray image).

    ``width``: working width in pixels (height follows the aspect ratio); ``sigma``: Gaussian blur of
    the saliency at working resolution; ``box``: size of the spectral averaging filter."""
    g = luma(frame)
    H, W = g.shape
    if width < 8 or box < 1 or sigma < 0:
        raise ValueError("width must be >= 8, box >= 1, sigma >= 0")
    w = min(width, W)
    h = max(1, min(H, int(round(H * w / W))))
    small = resize_map(g, (h, w)).astype(np.float64)
    if float(small.max() - small.min()) < 1e-6:
        return np.zeros((H, W), np.float32)  # nothing stands out in a flat frame
    spec = np.fft.fft2(small)
    amp = np.abs(spec)
    log_amp = np.log(amp + 1e-9)
    phase = np.angle(spec)
    # local mean of the log spectrum (box filter, wrap-around as the spectrum is periodic)
    acc = np.zeros_like(log_amp)
    r = box // 2
    for dy in range(-r, box - r):
        for dx in range(-r, box - r):
            acc += np.roll(log_amp, (dy, dx), axis=(0, 1))
    resid = log_amp - acc / (box * box)
    sal = np.abs(np.fft.ifft2(np.exp(resid + 1j * phase))) ** 2
    sal = gaussian_blur(sal.astype(np.float32), sigma)
    return normalize01(resize_map(normalize01(sal), (H, W)))


def _cv2():
    try:
        import cv2  # noqa: PLC0415
    except ImportError:
        raise MissingDependency("OpenCV is not installed: pip install 'opencv-contrib-python-headless<5'") from None
    return cv2


def opencv_saliency(frame, method: str = "spectral") -> np.ndarray:
    """OpenCV static saliency ("spectral" = StaticSaliencySpectralResidual, "fine" =
    StaticSaliencyFineGrained), (H, W) float32 in [0, 1]. Needs opencv-contrib."""
    cv2 = _cv2()
    if not hasattr(cv2, "saliency"):
        raise MissingDependency("cv2.saliency needs the contrib build: pip install 'opencv-contrib-python-headless<5'")
    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 (H, W, 3), got {f.dtype} {f.shape}")
    makers = {"spectral": cv2.saliency.StaticSaliencySpectralResidual_create,
              "fine": cv2.saliency.StaticSaliencyFineGrained_create}
    if method not in makers:
        raise ValueError(f"method must be one of {sorted(makers)}, got {method!r}")
    ok, sal = makers[method]().computeSaliency(np.ascontiguousarray(f[..., ::-1]))
    if not ok:
        raise RuntimeError("OpenCV saliency failed")
    return normalize01(np.asarray(sal, dtype=np.float32))


def detect_faces(frame, *, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: int = 24):
    """Face boxes (K, 4) int (x0, y0, x1, y1) from OpenCV's frontal-face Haar cascade."""
    cv2 = _cv2()
    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 (H, W, 3), got {f.dtype} {f.shape}")
    path = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise MissingDependency(f"Haar cascade not found at {path}")
    gray = cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)
    found = cascade.detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                     minSize=(min_size, min_size))
    boxes = np.asarray(found, dtype=np.int64).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return boxes


class SaliencySequence:
    """External saliency maps: a directory (or glob pattern, or list) of grayscale images, sorted by
    name, or a grayscale video file (read with PyAV). ``maps[i]`` / iteration give (H, W) float32 in
    [0, 1] (8-bit values / 255, 16-bit / 65535; colour images use their luma), resized to
    ``frame_hw`` when given."""

    def __init__(self, source, frame_hw=None):
        self.frame_hw = None if frame_hw is None else (int(frame_hw[0]), int(frame_hw[1]))
        self._video = None
        if isinstance(source, (list, tuple)):
            files = [os.fspath(p) for p in source]
        elif os.path.isdir(os.fspath(source)):
            files = sorted(p for p in glob.glob(os.path.join(os.fspath(source), "*"))
                           if p.lower().endswith(IMAGE_EXTS))
        elif any(c in os.fspath(source) for c in "*?["):
            files = sorted(glob.glob(os.fspath(source)))
        elif os.path.isfile(os.fspath(source)):
            if os.fspath(source).lower().endswith(IMAGE_EXTS):
                files = [os.fspath(source)]
            else:
                files, self._video = None, os.fspath(source)
        else:
            raise FileNotFoundError(f"saliency source not found: {source}")
        if files is not None and not files:
            raise ValueError(f"no images in {source}")
        self.files = files
        self._frames = None

    def _load_video(self):
        if self._frames is None:
            try:
                import av  # noqa: PLC0415
            except ImportError:
                raise MissingDependency("reading saliency videos needs PyAV: pip install av") from None
            try:
                with av.open(self._video) as c:
                    self._frames = [fr.to_ndarray(format="gray") for fr in c.decode(video=0)]
            except (av.error.FFmpegError, ValueError) as e:  # pragma: no cover - depends on the file
                raise ValueError(f"{self._video}: cannot decode ({e})") from None
            if not self._frames:
                raise ValueError(f"{self._video}: no frames")
        return self._frames

    def __len__(self):
        return len(self.files) if self.files is not None else len(self._load_video())

    def __getitem__(self, i) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        if self.files is not None:
            a = _read_image(self.files[i])
        else:
            a = self._load_video()[i]
        m = luma(a) if a.ndim == 3 else _gray01(a)
        if self.frame_hw is not None and m.shape != self.frame_hw:
            m = resize_map(m, self.frame_hw)
        return np.clip(m, 0.0, 1.0).astype(np.float32)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def _gray01(a) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    return a.astype(np.float32)


def _read_image(path) -> np.ndarray:
    """Gray (uint8/uint16) or RGB uint8 array of an image file; palette images via their gray values."""
    a, mode = read_image(path)
    if mode in ("P", "PA"):
        from PIL import Image  # noqa: PLC0415

        with Image.open(path) as im:
            return np.asarray(im.convert("L"))
    return a
