"""Video input and output: :func:`open_video` (PyAV, decord, image folders) and
:class:`VideoWriter` (H.264 / lossless FFV1 / x264 qp 0). Frames are uint8 RGB (H, W, 3)."""
from .errors import MissingBackendError, VideoIOError
from .readers import (DEFAULT_IMAGE_FPS, DecordReader, ImageSequenceReader, PyAVReader, VideoReader,
                      natural_key, open_video)
from .writers import CODECS, VideoWriter

__all__ = ["open_video", "VideoReader", "PyAVReader", "DecordReader", "ImageSequenceReader", "VideoWriter",
           "VideoIOError", "MissingBackendError", "CODECS", "DEFAULT_IMAGE_FPS", "natural_key"]
