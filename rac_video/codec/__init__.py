"""The region-adaptive generative codec (docs/design.md §3): model, weights, image and frame API."""
from .image import decode_image, encode_image, parse_header
from .model import DEFAULT_STEPS, PAD, Codec, PayloadError, load_model
from .weights import DEFAULT_MODEL, ModelMismatchError

__all__ = ["Codec", "load_model", "encode_image", "decode_image", "parse_header", "PayloadError",
           "ModelMismatchError", "DEFAULT_MODEL", "DEFAULT_STEPS", "PAD"]
