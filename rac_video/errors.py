"""One family of exceptions for rac_video, and the exit code the command line gives each.

Every error rac_video raises on purpose derives from :class:`RacVideoError`. Each class also
derives from the builtin exception a caller would expect (the way PyAV's ``av.error`` classes do),
so ``except ValueError`` / ``except OSError`` written against earlier versions keeps working, and
``except RacVideoError`` catches everything the library raises deliberately.

======================  =====================================  ==========  =========
class                   bases                                  CLI exit    meaning
======================  =====================================  ==========  =========
RacVideoError           Exception                              1           base class
InvalidInputError       RacVideoError, ValueError              2           bad argument, file or setting
CorruptStreamError      InvalidInputError                      2           damaged, truncated or malformed bytes
ModelMismatchError      InvalidInputError                      2           stream made with other weights, or a
                                                                           model this build cannot run
RacIOError              RacVideoError, OSError                 1           reading or writing failed
BackendError            RacVideoError, RuntimeError            2           a forced op backend is not available
======================  =====================================  ==========  =========

Exit codes of ``rac-video`` (``rac_video.cli``): 0 ok; 1 failure (I/O); 2 bad usage or bad input
(including corrupt streams and model mismatch: one line on stderr, no traceback); 3 the stream was
decoded but damaged frames were skipped (``decode --skip-damaged``; a result, not an exception);
130 interrupted. The CLI reads the code from :attr:`RacVideoError.exit_code`.

Existing module errors are subclasses (their old ``ValueError`` / ``RuntimeError`` ancestry kept):
``container.ContainerError`` (InvalidInputError), ``container.CorruptPacketError`` (also
CorruptStreamError), ``entropy.BitstreamError`` and ``codec.PayloadError`` (CorruptStreamError),
``codec.ModelMismatchError`` (ModelMismatchError), ``importance.sideinfo.SideInfoError``,
``importance.gaze.GazeError``, ``io.VideoIOError``, ``pipeline.PipelineError`` (InvalidInputError),
``ops.BackendUnavailable`` (BackendError).

This module imports nothing from rac_video, so any layer may import it (docs/design.md §8).
"""
from __future__ import annotations

__all__ = ["RacVideoError", "InvalidInputError", "CorruptStreamError", "ModelMismatchError", "RacIOError",
           "BackendError", "EXIT_OK", "EXIT_FAILURE", "EXIT_BAD_INPUT", "EXIT_DAMAGED", "exit_code"]

EXIT_OK = 0
EXIT_FAILURE = 1        # I/O and other failures
EXIT_BAD_INPUT = 2      # bad usage or input, corrupt stream, model mismatch
EXIT_DAMAGED = 3        # decoded, but damaged frames were skipped


class RacVideoError(Exception):
    """Base class of every error rac_video raises deliberately."""

    exit_code = EXIT_FAILURE


class InvalidInputError(RacVideoError, ValueError):
    """An argument, file, setting or stream the library cannot accept."""

    exit_code = EXIT_BAD_INPUT


class CorruptStreamError(InvalidInputError):
    """Bytes that do not decode: a damaged, truncated or malformed container, packet, payload,
    side information or entropy-coded stream."""


class ModelMismatchError(InvalidInputError):
    """A bitstream names a model or weights hash other than the loaded one, or a model needs a
    newer rac_video (``rac_video.codec.ModelMismatchError``, which the codec raises, subclasses it)."""


class RacIOError(RacVideoError, OSError):
    """Reading or writing failed (unwritable output, disk full, a device or socket error)."""

    exit_code = EXIT_FAILURE


class BackendError(RacVideoError, RuntimeError):
    """An op backend that was asked for (argument, ``use_backend`` or environment variable) is not
    available here (``rac_video.ops.BackendUnavailable`` subclasses it)."""

    exit_code = EXIT_BAD_INPUT


def exit_code(exc: BaseException) -> int:
    """The ``rac-video`` exit code for an exception: its class's for a :class:`RacVideoError`; for
    builtins not (yet) wrapped, 2 for ``ValueError`` and missing paths, 1 for other ``OSError``."""
    if isinstance(exc, RacVideoError):
        return int(exc.exit_code)
    if isinstance(exc, (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError)):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE
