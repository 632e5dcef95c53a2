"""Per-frame codecs for streaming and the target-bitrate controller.

* ``rac``  — the region-adaptive codec (:func:`rac_video.codec.load_model`), used when weights are
  installed.
* ``jpeg`` — a **stand-in** so that transport, instrumentation, emulation and viewer can be measured
  without trained weights: PIL baseline JPEG per frame, JPEG quality ``5 + 6·q`` (q = 0..15, the
  codec's quality range) scaled by ``0.5 + 0.5·mean(levels)/(L−1)`` so a smaller important region
  costs fewer bits. It is *not* region-adaptive inside the frame; every report made with it says so.

:class:`RateController`: target-bitrate mode. Before each frame it picks an integer quality from a
continuous state nudged by the log ratio of the frame budget (target/fps, corrected by a leaky
bucket of the recent excess) to the size of the last frame at that quality.
"""
from __future__ import annotations

import io
import logging
import math

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["StreamCodec", "JpegStandIn", "RacCodec", "open_codec", "RateController", "Q_MAX", "FACTOR"]

Q_MAX = 15
FACTOR = 8
LEVELS = 16


class StreamCodec:
    name = ""
    standin = False
    model = ""
    weights_hash = ""
    levels = LEVELS

    def latent_hw(self, h: int, w: int):
        return -(-int(h) // FACTOR), -(-int(w) // FACTOR)

    def encode(self, frame, levels_u8, q: int, index: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, payload: bytes, levels_u8, q: int, index: int, h: int, w: int):  # pragma: no cover
        raise NotImplementedError


class JpegStandIn(StreamCodec):
    name = "jpeg"
    standin = True
    model = "jpeg-standin"
    weights_hash = "0" * 64   # no weights; the .racv header wants a sha256-shaped field

    def jpeg_quality(self, levels_u8, q: int) -> int:
        if not 0 <= int(q) <= Q_MAX:
            raise ValueError(f"quality must be in 0..{Q_MAX}, got {q}")
        m = float(np.mean(levels_u8)) / (self.levels - 1) if np.size(levels_u8) else 1.0
        return int(min(95, max(1, round((5 + 6 * int(q)) * (0.5 + 0.5 * m)))))

    def encode(self, frame, levels_u8, q, index):
        from PIL import Image

        a = np.asarray(frame)
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 (H, W, 3), got {a.dtype} {a.shape}")
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="JPEG", quality=self.jpeg_quality(levels_u8, q))
        return buf.getvalue()

    def decode(self, payload, levels_u8, q, index, h, w):
        from PIL import Image, UnidentifiedImageError

        try:
            im = Image.open(io.BytesIO(payload))
            if im.size != (w, h):   # checked before the pixels are allocated (a hostile size costs nothing)
                raise ValueError(f"JPEG payload is {im.size[0]}x{im.size[1]}, stream says {w}x{h}")
            im.load()
        except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
            raise ValueError(f"corrupt JPEG payload: {e}") from None
        a = np.asarray(im.convert("RGB"))
        if a.shape[:2] != (h, w):
            raise ValueError(f"decoded {a.shape[1]}x{a.shape[0]}, stream says {w}x{h}")
        return a


class RacCodec(StreamCodec):
    name = "rac"

    def __init__(self, model: str | None = None, device: str = "cpu", steps: int | None = None):
        from ..codec import DEFAULT_MODEL, load_model

        self._c = load_model(model or DEFAULT_MODEL, device=device)
        self.model, self.weights_hash = self._c.name, self._c.weights_hash
        self.levels = self._c.levels
        self.steps = steps

    def latent_hw(self, h, w):
        return self._c.latent_hw(h, w)

    def encode(self, frame, levels_u8, q, index):
        return self._c.encode_frame(frame, levels_u8, int(q), seed=0, frame_index=int(index), steps=self.steps)

    def decode(self, payload, levels_u8, q, index, h, w):
        return self._c.decode_frame(payload, levels_u8, int(q), seed=0, frame_index=int(index), height=h, width=w)


def open_codec(name: str, **kw) -> StreamCodec:
    if name == "jpeg":
        return JpegStandIn()
    if name == "rac":
        return RacCodec(**kw)
    raise ValueError(f"unknown codec {name!r} (rac | jpeg)")


class RateController:
    """Quality per frame for a target bitrate (bits/s) at ``fps``; ``target_bps`` 0 = fixed ``q0``."""

    def __init__(self, target_bps: float, fps: float, q0: int = 8, *, gain: float = 1.5, window_s: float = 1.0):
        if target_bps < 0 or not math.isfinite(target_bps):
            raise ValueError(f"target bitrate must be >= 0, got {target_bps}")
        if not 0 <= q0 <= Q_MAX:
            raise ValueError(f"quality must be in 0..{Q_MAX}, got {q0}")
        self.target, self.fps = float(target_bps), float(fps)
        self.qf = float(q0)
        self.gain = gain
        self.window = max(1.0, window_s * fps)
        self.bucket = 0.0   # bits sent above budget, leaking over the window
        self._last = None

    @property
    def budget(self) -> float:
        return self.target / self.fps

    def quality(self) -> int:
        return int(min(Q_MAX, max(0, round(self.qf))))

    def congested(self):
        """The link is backed up (a frame was skipped): one quality step down at once."""
        self.qf = max(-0.49, self.qf - 1.0)
        if self.target:
            self.bucket = max(self.bucket, 0.0) + self.budget

    def update(self, nbytes: int, q: int):
        """Report the size of the frame just coded at quality ``q``."""
        if not self.target:
            return
        bits = max(8.0, 8.0 * nbytes)
        self.bucket = self.bucket * (1 - 1 / self.window) + bits - self.budget
        want = max(self.budget * 0.1, self.budget - self.bucket / self.window)
        self.qf = min(Q_MAX + 0.49, max(-0.49, self.qf + self.gain * math.log2(want / bits)))
