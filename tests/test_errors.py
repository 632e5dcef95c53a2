"""One error family (rac_video.errors): the hierarchy, the builtin ancestry kept for old callers, and
the command line's exit codes for it."""
import os
import struct
import zlib

import pytest

from rac_video import errors as E


def test_hierarchy_and_builtin_mixins():
    assert issubclass(E.InvalidInputError, E.RacVideoError) and issubclass(E.InvalidInputError, ValueError)
    assert issubclass(E.CorruptStreamError, E.InvalidInputError)
    assert issubclass(E.ModelMismatchError, E.InvalidInputError)
    assert issubclass(E.RacIOError, E.RacVideoError) and issubclass(E.RacIOError, OSError)
    assert issubclass(E.BackendError, E.RacVideoError) and issubclass(E.BackendError, RuntimeError)
    assert not issubclass(E.RacIOError, ValueError) and not issubclass(E.InvalidInputError, OSError)
    with pytest.raises(ValueError):                      # old `except ValueError` callers still catch it
        raise E.CorruptStreamError("bad bytes")
    err = E.RacIOError(28, "No space left on device")    # OSError's (errno, strerror) form still works
    assert err.errno == 28 and isinstance(err, OSError)


@pytest.mark.parametrize("cls, code", [(E.RacVideoError, 1), (E.InvalidInputError, 2), (E.CorruptStreamError, 2),
                                       (E.ModelMismatchError, 2), (E.RacIOError, 1), (E.BackendError, 2)])
def test_exit_codes(cls, code):
    assert cls.exit_code == code and E.exit_code(cls("x")) == code


def test_unwrapped_builtins_keep_the_old_codes():
    assert E.exit_code(ValueError("x")) == 2
    assert E.exit_code(FileNotFoundError("x")) == 2
    assert E.exit_code(PermissionError("x")) == 1
    assert E.exit_code(RuntimeError("x")) == 1


def test_module_errors_join_the_family():
    from rac_video.codec.model import PayloadError
    from rac_video.codec.weights import ModelMismatchError
    from rac_video.container import ContainerError, CorruptPacketError
    from rac_video.entropy import BitstreamError
    from rac_video.importance.gaze import GazeError
    from rac_video.importance.sideinfo import SideInfoError
    from rac_video.io.errors import MissingBackendError, VideoIOError
    from rac_video.ops import BackendUnavailable
    from rac_video.pipeline import PipelineError

    for cls in (PayloadError, BitstreamError, CorruptPacketError):
        assert issubclass(cls, E.CorruptStreamError) and issubclass(cls, ValueError), cls
    assert issubclass(ModelMismatchError, E.ModelMismatchError) and issubclass(ModelMismatchError, ValueError)
    for cls in (ContainerError, SideInfoError, GazeError, VideoIOError, PipelineError):
        assert issubclass(cls, E.InvalidInputError) and issubclass(cls, ValueError), cls
    assert issubclass(CorruptPacketError, ContainerError)
    assert issubclass(MissingBackendError, ImportError) and issubclass(MissingBackendError, E.RacVideoError)
    assert issubclass(BackendUnavailable, E.BackendError) and issubclass(BackendUnavailable, RuntimeError)


def test_errors_module_is_a_leaf():
    import ast

    src = open(E.__file__).read()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom):
            assert node.module == "__future__", node.module
        assert not isinstance(node, ast.Import)


def _damaged_racv(path):
    """A .racv file with a valid header and one packet whose body CRC is wrong."""
    from rac_video.codec.weights import DEFAULT_MODEL, read_record
    from rac_video.container import Header, Packet, Writer

    h = Header(DEFAULT_MODEL, read_record(DEFAULT_MODEL)["sha256"], 16, 16, 25, 1, settings={"quality": 8})
    with Writer(str(path), h, index=False) as w:
        w.write(Packet(index=0, pts=0, quality=8, side_info=b"", payload=b"\x00" * 32))
    data = bytearray(open(path, "rb").read())
    data[-6] ^= 0xFF                                     # inside the last packet's payload: its CRC fails
    open(path, "wb").write(bytes(data))
    return path


@pytest.mark.parametrize("kind", ["garbage", "truncated", "damaged"])
def test_corrupt_file_exits_2_with_one_line(tmp_path, capsys, kind):
    from rac_video.cli import main

    path = tmp_path / "x.racv"
    if kind == "garbage":
        path.write_bytes(os.urandom(300))
    elif kind == "truncated":
        body = struct.pack("<IIII", 16, 16, 25, 1)
        head = b"RACV" + bytes([1, 0]) + struct.pack("<HI", 0, 1000) + body   # promises 1000 bytes, has 16
        path.write_bytes(head + struct.pack("<I", zlib.crc32(head)))
    else:
        _damaged_racv(path)
    out = tmp_path / "x.mp4"
    code = main(["decode", str(path), "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rac-video decode: error:"), err
    assert "Traceback" not in err and not out.exists()
