"""Write files so that a reader never sees a half-written one (unique temp file + rename), and never
write over an input."""
from __future__ import annotations

import os
import secrets

__all__ = ["write_bytes_atomic", "write_text_atomic", "open_temp", "same_file", "check_not_input"]


def open_temp(path):
    """Create a new, unique temporary file next to ``path`` (``path.<random>.part``, mode 0666 minus the
    umask, O_EXCL: an existing file is never reused or overwritten). Returns (binary file object, temp path)."""
    path = os.fspath(path)
    for _ in range(100):
        tmp = f"{path}.{secrets.token_hex(4)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return os.fdopen(fd, "wb"), tmp
    raise FileExistsError(f"cannot create a unique temporary file next to {path}")


def write_bytes_atomic(path, data: bytes) -> None:
    path = os.fspath(path)
    f, tmp = open_temp(path)
    try:
        with f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def same_file(a, b) -> bool:
    """True when ``a`` and ``b`` name the same existing file (same path, a symbolic or hard link)."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError, TypeError):
        return False


def check_not_input(output, inputs, what: str = "output") -> None:
    """ValueError when ``output`` is (a link to) one of ``inputs`` — writing it would destroy the input.
    An input that is a folder also protects the files inside it."""
    if output is None:
        return
    out = os.fspath(output)
    for inp in inputs:
        if inp is None:
            continue
        inp = os.fspath(inp)
        clash = same_file(out, inp)
        if not clash and os.path.isdir(inp):
            parent = os.path.dirname(os.path.abspath(out))
            clash = same_file(parent, inp) and os.path.exists(out)
        if clash:
            raise ValueError(f"{what} {out} is the input {inp}: refusing to overwrite it")
