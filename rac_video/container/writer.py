"""Writing ``.racv``: :class:`Writer` (atomic when given a path)."""
from __future__ import annotations

import dataclasses
import os
import secrets

from .format import HEADER_HAS_INDEX, ContainerError, Header, Packet, pack_index

__all__ = ["Writer"]


class Writer:
    """``Writer(path_or_fileobj, header, *, index=True)``: ``.write(packet)`` per frame (indices
    strictly increasing), ``.close()`` writes the index trailer when ``index``. Also a context
    manager. Given a path it writes a new, unique ``path.<random>.part`` (never an existing file)
    and renames it on a successful close; on an exception inside ``with`` (or :meth:`abort`) the
    temporary file is removed, so a file under the final name is always complete. Given a file
    object it writes there (no seeking needed) and leaves it open.

    The header gets a random non-zero ``stream_id`` (format 2.0) unless it has one; every packet
    written carries it and the index trailer's CRC starts from it, so a reader can tell this
    stream's packets and trailer from another's."""

    def __init__(self, target, header: Header, *, index: bool = True):
        if not isinstance(header, Header):
            raise TypeError(f"header must be a Header, got {type(header).__name__}")
        flags = (header.flags | HEADER_HAS_INDEX) if index else (header.flags & ~HEADER_HAS_INDEX)
        sid = header.stream_id or (secrets.randbits(32) or 1)
        self.header = dataclasses.replace(header, flags=flags, stream_id=sid)
        head = self.header.to_bytes()  # validates before any file is created
        self.index = bool(index)
        self._entries: list[tuple[int, int, int]] = []
        self._closed = False
        self.path = None
        if isinstance(target, (str, bytes, os.PathLike)):
            from .._atomic import open_temp

            self.path = os.fsdecode(target)
            if os.path.isdir(self.path):
                raise ContainerError(f"cannot write {self.path}: it is a directory")
            try:
                self._f, self._part = open_temp(self.path)
            except OSError as e:
                raise ContainerError(f"cannot write {self.path}: {e.strerror or e}") from None
        else:
            if not hasattr(target, "write"):
                raise TypeError(f"expected a path or a binary file object, got {type(target).__name__}")
            self._f = target
        self._pos = 0
        self._put(head)

    @property
    def bytes_written(self) -> int:
        return self._pos

    @property
    def count(self) -> int:
        """Packets written so far."""
        return len(self._entries)

    def _put(self, data: bytes) -> None:
        try:
            self._f.write(data)
        except OSError as e:
            self.abort()
            raise ContainerError(f"cannot write {self.path or 'the output stream'}: {e.strerror or e}") from None
        self._pos += len(data)

    def write(self, packet: Packet) -> int:
        """Append one packet; returns its size in bytes."""
        if self._closed:
            raise ContainerError("write to a closed Writer")
        if not isinstance(packet, Packet):
            raise TypeError(f"expected a Packet, got {type(packet).__name__}")
        if self._entries and packet.index <= self._entries[-1][0]:
            raise ContainerError(f"frame index {packet.index} after {self._entries[-1][0]}: indices "
                                 "must increase")
        data = dataclasses.replace(packet, stream_id=self.header.stream_id).to_bytes()
        self._entries.append((packet.index, self._pos, packet.pts))
        self._put(data)
        return len(data)

    def close(self) -> None:
        """Finish the stream (index trailer) and, for a path, move the file into place."""
        if self._closed:
            return
        if self.index:
            self._put(pack_index(self._entries, self._pos, self.header.stream_id))
        self._closed = True
        try:
            self._f.flush()
            if self.path is not None:
                os.fsync(self._f.fileno())
                self._f.close()
                os.replace(self._part, self.path)
        except OSError as e:
            self._closed = False
            self.abort()
            raise ContainerError(f"cannot write {self.path or 'the output stream'}: {e.strerror or e}") from None

    def abort(self) -> None:
        """Stop without finishing; for a path, remove the temporary file."""
        if self._closed:
            return
        self._closed = True
        if self.path is not None:
            try:
                self._f.close()
            finally:
                try:
                    os.unlink(self._part)
                except FileNotFoundError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()
