"""Errors of :mod:`rac_video.io`."""
from __future__ import annotations

from ..errors import InvalidInputError

__all__ = ["VideoIOError", "MissingBackendError"]


class VideoIOError(InvalidInputError):
    """A video cannot be opened, read or written: missing or unreadable file, no video stream,
    unsupported codec or container, wrong frame shape, output not writable."""


class MissingBackendError(VideoIOError, ImportError):
    """An optional backend (decord) is not installed."""
