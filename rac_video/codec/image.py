"""Self-contained image bitstreams: ``encode_image`` / ``decode_image``.

Layout (little-endian)::

    b"RACI" | u8 version | u8 len(model name) | model name | 8 bytes of the weights sha256 |
    u16 H | u16 W | u8 quality | u32 seed | u32 len(side info) | side info | frame payload

The side information is a ``rac_video.importance.sideinfo`` record (raster levels), counted in
the size like everything else. Decoding with other weights raises ModelMismatchError.
"""
from __future__ import annotations

import struct

import numpy as np

from ..importance import sideinfo
from .model import Codec, PayloadError, load_model
from .weights import DEFAULT_MODEL, ModelMismatchError

MAGIC = b"RACI"
VERSION = 1
_TAIL = struct.Struct("<HHBII")


def _as_u8_image(image) -> np.ndarray:
    try:
        import torch
        if isinstance(image, torch.Tensor):
            t = image.detach().cpu()
            if t.is_floating_point():  # (3,H,W) or (H,W,3) in [0, 1]
                t = (t.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
            image = t.permute(1, 2, 0).numpy() if t.ndim == 3 and t.shape[0] == 3 and t.shape[2] != 3 else t.numpy()
    except ImportError:  # pragma: no cover
        pass
    a = np.asarray(image)
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating):
            a = (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)
        else:
            raise ValueError(f"image must be uint8 RGB or float in [0, 1], got {a.dtype}")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB, got shape {a.shape}")
    if not (1 <= a.shape[0] <= 65535 and 1 <= a.shape[1] <= 65535):
        raise ValueError(f"image size {a.shape[1]}x{a.shape[0]} out of range")
    return a


def encode_image(image, importance=None, quality: int = 8, *, model: Codec | None = None, seed: int = 0,
                 steps: int | None = None, rdoq: float | None = None, colour: bool = True,
                 masked: bool | int | None = None, refine: int = 0) -> bytes:
    """Compress an RGB image. ``importance``: None (uniform, all levels L−1) or an (H, W) map in [0, 1];
    ``steps`` (DDIM steps K written for the decoder), ``rdoq`` (the encoder's RDOQ α, 0: off;
    rac_video.codec.rdoq) and ``masked`` (levels ℓ < M not coded, True: M = 1; rac_video.codec.model):
    None takes the model's default; ``colour``: send the colour layer (rac_video.codec.colour); ``refine``:
    N steps of encode-time latent refinement (rac_video.codec.refine; 0: off, slower by ~0.1–0.2 s per step
    at 768×512 on a 2-core CPU)."""
    codec = model or load_model()
    a = _as_u8_image(image)
    H, W = a.shape[:2]
    hw = codec.latent_hw(H, W)
    if importance is None:
        levels = np.full(hw, codec.levels - 1, np.uint8)
    else:
        m = np.asarray(importance, dtype=np.float32)
        if m.shape != (H, W):
            raise ValueError(f"importance map must be (H, W) = {(H, W)}, got {m.shape}")
        levels = sideinfo.levels_from_importance(m, hw, codec.levels)
    side = sideinfo.RasterLevels(levels, codec.levels).to_bytes()
    payload = codec.encode_frame(a, levels, quality, seed=seed, steps=steps, rdoq=rdoq, colour=colour,
                                 masked=masked, refine=refine)
    name = codec.name.encode()
    return (MAGIC + bytes([VERSION, len(name)]) + name + bytes.fromhex(codec.weights_hash[:16])
            + _TAIL.pack(H, W, quality, seed, len(side)) + side + payload)


def parse_header(data: bytes) -> dict:
    data = bytes(data)
    if len(data) < 6 or data[:4] != MAGIC:
        raise PayloadError("not a rac_video image bitstream (bad magic)")
    if data[4] != VERSION:
        raise PayloadError(f"image bitstream version {data[4]} is not supported (this build reads {VERSION})")
    n = data[5]
    pos = 6 + n + 8 + _TAIL.size
    if len(data) < pos:
        raise PayloadError("truncated image bitstream header")
    name = data[6:6 + n].decode("ascii", errors="replace")
    H, W, q, seed, nside = _TAIL.unpack_from(data, 6 + n + 8)
    if len(data) < pos + nside:
        raise PayloadError("truncated image bitstream (side information)")
    return {"model": name, "weights_hash": data[6 + n:6 + n + 8].hex(), "height": H, "width": W, "quality": q,
            "seed": seed, "side_info": data[pos:pos + nside], "payload": data[pos + nside:]}


def decode_image(data: bytes, *, model: Codec | None = None, steps: int | None = None,
                 realism: float = 0.0) -> np.ndarray:
    """Decompress to uint8 RGB (H, W, 3); ``realism`` ρ ∈ [0, 1] (rac_video.codec.realism; 0: fidelity)."""
    from .realism import check_realism

    realism = check_realism(realism)
    hdr = parse_header(data)
    codec = model or load_model(hdr["model"] if hdr["model"] else DEFAULT_MODEL)
    if hdr["model"] != codec.name or not codec.weights_hash.startswith(hdr["weights_hash"]):
        raise ModelMismatchError(f"bitstream was made by {hdr['model']} ({hdr['weights_hash']}), loaded model is "
                                 f"{codec.name} ({codec.weights_hash[:16]})")
    if hdr["height"] < 1 or hdr["width"] < 1:
        raise PayloadError("image bitstream has an empty size")
    try:
        levels = sideinfo.from_bytes(hdr["side_info"]).levels(codec.latent_hw(hdr["height"], hdr["width"]))
    except sideinfo.SideInfoError as exc:
        raise PayloadError(f"bad side information: {exc}") from exc
    try:
        return codec.decode_frame(hdr["payload"], levels, hdr["quality"], seed=hdr["seed"], height=hdr["height"],
                                  width=hdr["width"], steps=steps, realism=realism)
    except ValueError as exc:
        if isinstance(exc, PayloadError):
            raise
        raise PayloadError(str(exc)) from exc
