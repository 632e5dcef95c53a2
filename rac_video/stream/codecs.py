"""The frame codec a stream uses: the region-adaptive codec, or the JPEG stand-in.

Both are coded through :class:`rac_video.pipeline.FrameEncoder` / :class:`~rac_video.pipeline.FrameDecoder`,
the same per-frame path ``rac-video encode`` / ``decode`` use, so a stream sends the packets a
``.racv`` file would hold.

* ``rac``  — the region-adaptive codec (:func:`rac_video.codec.load_model`); the default.
* ``jpeg`` — an explicit **stand-in**, so that transport, instrumentation, emulation and viewer can be
  measured without the model's encode time: PIL baseline JPEG per frame, JPEG quality ``5 + 6·q``
  (q = 0..15, the codec's quality range) scaled by ``0.5 + 0.5·mean(levels)/(L−1)`` so a smaller
  important region costs fewer bits. It is *not* region-adaptive inside the frame; every report made
  with it says so. It offers the part of :class:`~rac_video.codec.Codec` that the frame encoder and
  decoder use (``encode_frame``, ``decode_frame``, ``rate_function``, ``latent_hw`` and the header
  fields); its rate function is exact (it encodes at the candidate quality).
"""
from __future__ import annotations

import io

import numpy as np

from .. import schedule
from ..codec.model import PayloadError

__all__ = ["JpegStandIn", "open_codec", "is_standin", "CODECS", "FACTOR"]

CODECS = ("rac", "jpeg")
FACTOR = 8


class JpegStandIn:
    """A stand-in for :class:`~rac_video.codec.Codec` that codes each frame as a baseline JPEG."""

    name = "jpeg-standin"
    standin = True
    weights_hash = "0" * 64   # no weights; the .racv header wants a sha256-shaped field
    levels = schedule.DEFAULT_LEVELS
    steps = 0
    rdoq = 0.0
    schedule_version = 0
    device = "cpu"
    device_independent = True  # PIL's JPEG decides nothing the decoder must reproduce

    def latent_hw(self, height: int, width: int) -> tuple[int, int]:
        return -(-int(height) // FACTOR), -(-int(width) // FACTOR)

    def jpeg_quality(self, levels_u8, quality: int) -> int:
        if not 0 <= int(quality) <= schedule.Q_MAX:
            raise ValueError(f"quality must be in 0..{schedule.Q_MAX}, got {quality}")
        m = float(np.mean(levels_u8)) / (self.levels - 1) if np.size(levels_u8) else 1.0
        return int(min(95, max(1, round((5 + 6 * int(quality)) * (0.5 + 0.5 * m)))))

    def encode_frame(self, frame, levels_u8, quality: int, **_settings) -> bytes:
        """A JPEG of ``frame``; the codec's keyword settings (seed, dither frame, steps, RDOQ) do not apply."""
        from PIL import Image

        a = np.asarray(frame)
        if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 (H, W, 3), got {a.dtype} {a.shape}")
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, format="JPEG", quality=self.jpeg_quality(levels_u8, quality))
        return buf.getvalue()

    def rate_function(self, frame, levels_u8, **_settings):
        """``q -> payload bits``, exact: the JPEG at that quality is made and measured."""
        return lambda quality: 8 * len(self.encode_frame(frame, levels_u8, quality))

    def decode_frame(self, payload: bytes, levels_u8, quality: int, *, height: int, width: int,
                     **_settings) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            im = Image.open(io.BytesIO(payload))
            if im.size != (width, height):   # checked before the pixels are allocated (a hostile size costs nothing)
                raise PayloadError(f"JPEG payload is {im.size[0]}x{im.size[1]}, stream says {width}x{height}")
            im.load()
        except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as e:
            raise PayloadError(f"corrupt JPEG payload: {e}") from None
        a = np.asarray(im.convert("RGB"))
        if a.shape[:2] != (height, width):
            raise PayloadError(f"decoded {a.shape[1]}x{a.shape[0]}, stream says {width}x{height}")
        return a


def open_codec(name: str, model: str | None = None, device: str = "cpu"):
    """The frame codec ``name`` (``rac``: the model ``model``, default the shipped default; ``jpeg``)."""
    if name == "jpeg":
        return JpegStandIn()
    if name == "rac":
        from ..codec import DEFAULT_MODEL, load_model

        return load_model(model or DEFAULT_MODEL, device=device)
    raise ValueError(f"unknown codec {name!r} (rac | jpeg)")


def is_standin(codec) -> bool:
    return bool(getattr(codec, "standin", False))
