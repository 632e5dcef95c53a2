"""Reading ``.racv``: :func:`read_packet` on any file object, :class:`Reader` with iteration,
seeking through the index trailer (or a scan) and resynchronisation after damage."""
from __future__ import annotations

import bisect
import os

from .format import (END_MAGIC, HEADER_HAS_INDEX, INDEX_MAGIC, MAX_FRAME_GAP, MAX_INDEX_ENTRIES, MAX_PACKET, SYNC,
                     ContainerError, CorruptPacketError, EndOfPackets, Header, Packet, index_size,
                     packet_size, unpack_index, unpack_packet)

__all__ = ["read_packet", "Reader", "NotSeekableError"]

_CHUNK = 1 << 16
_MAX_READ = 1 << 22   # one read asks for at most this: a size field read from a file never sizes an allocation


class NotSeekableError(ContainerError, TypeError):
    """len() / indexing / seek() on a stream that cannot seek (a TypeError too, so list(reader) works)."""


def _read_exact(f, n: int) -> bytes:
    """Up to n bytes (fewer only at EOF), read in bounded chunks so a bogus length cannot allocate."""
    parts, got = [], 0
    while got < n:
        b = f.read(min(n - got, 1 << 20))
        if b is None:
            raise ContainerError("the stream is non-blocking and has no data ready")
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def read_packet(f, *, max_size: int = MAX_PACKET) -> Packet | None:
    """The next packet of a file object positioned at a packet boundary; None at a clean EOF or
    at the index trailer. Reads exactly the packet's bytes. Damage or truncation raises
    CorruptPacketError naming the frame when its fixed part is intact."""
    head = _read_exact(f, 16)
    if not head:
        return None
    try:
        total = packet_size(head, max_size=max_size)
    except EndOfPackets:
        return None
    if total is None:
        raise CorruptPacketError(f"stream truncated inside a packet header ({len(head)} of 16 bytes)")
    rest = _read_exact(f, total - 16)
    res = unpack_packet(head + rest, max_size=max_size)
    if res is None:
        frame = int.from_bytes(head[8:12], "little")
        raise CorruptPacketError(f"frame {frame} is truncated ({16 + len(rest)} of {total} bytes)", frame)
    return res[0]


class _Stream:
    """A growing window over a file object: ``buf[pos:]`` are the unread bytes, ``base`` is the
    absolute file offset of ``buf[0]``. With a seekable file it re-seeks before each read, so
    random access elsewhere on the same file object does not disturb it."""

    def __init__(self, f, start: int, seekable: bool):
        self.f, self.seekable = f, seekable
        self.buf, self.pos, self.base, self.eof = bytearray(), 0, start, False
        # read1: whatever is available (one raw read), so a live pipe or socket is not waited on
        # for a whole chunk before the packet already received is returned
        self._read = getattr(f, "read1", None) or f.read

    @property
    def avail(self) -> int:
        return len(self.buf) - self.pos

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fill(self, n: int) -> bool:
        """Make n unread bytes available if the file has them; False at EOF before that."""
        while self.avail < n and not self.eof:
            if self.seekable:
                self.f.seek(self.base + len(self.buf))
            b = self._read(min(max(_CHUNK, n - self.avail), _MAX_READ))
            if b is None:
                raise ContainerError("the stream is non-blocking and has no data ready")
            if not b:
                self.eof = True
                break
            if self.pos > (1 << 20):  # drop consumed bytes (a new object: views of the old one may live on)
                self.buf = self.buf[self.pos:]
                self.base += self.pos
                self.pos = 0
            try:
                self.buf += b
            except BufferError:  # a traceback still holds a view of the buffer: grow a copy
                self.buf = self.buf + b
        return self.avail >= n

    def find_marker(self, start: int) -> bool:
        """Advance to the first SYNC or INDEX_MAGIC at absolute offset >= start; False at EOF."""
        self.fill(start - self.offset)
        self.pos = min(len(self.buf), start - self.base)
        while True:
            hits = [i for i in (self.buf.find(SYNC, self.pos), self.buf.find(INDEX_MAGIC, self.pos)) if i >= 0]
            if hits:
                self.pos = min(hits)
                return True
            self.pos = max(self.pos, len(self.buf) - 3)  # a marker may straddle two reads
            end = self.base + len(self.buf)
            self.fill(self.avail + 1)
            if self.base + len(self.buf) == end:
                self.pos = len(self.buf)
                return False


class Reader:
    """Read a ``.racv`` file or stream.

    ``Reader(path_or_fileobj, skip_damaged=False)``; ``.header``; ``for packet in reader`` yields the
    packets in order from the current position (no seeking needed, works on pipes and sockets).
    On seekable input: ``len(reader)``, ``reader[i]`` (i-th packet, negative allowed) and
    ``reader.seek(frame)`` (iteration restarts at the first packet with index >= frame), through
    the index trailer when it is intact, else through a scan of the file.

    With ``skip_damaged=True`` a damaged packet is stepped over (resynchronising on the next
    packet marker), its frame index recorded in ``.damaged`` (frames lost between two good packets
    count too) and a message in ``.errors``; otherwise the first damage raises CorruptPacketError.
    """

    def __init__(self, source, *, skip_damaged: bool = False, max_packet: int = MAX_PACKET):
        self.skip_damaged, self.max_packet = bool(skip_damaged), int(max_packet)
        self.damaged: list[int] = []
        self._damaged_set: set[int] = set()
        self.errors: list[str] = []
        self.truncated = False
        self.trailer_ok = False  # the index trailer was read at the end of an iteration and checked out
        self.index_error: str | None = None
        self._own = isinstance(source, (str, bytes, os.PathLike))
        if self._own:
            try:
                self._f = open(source, "rb")
            except OSError as e:
                raise ContainerError(f"cannot open {os.fsdecode(source)}: {e.strerror or e}") from None
            self.name = os.fsdecode(source)
        else:
            if not hasattr(source, "read"):
                raise TypeError(f"expected a path or a binary file object, got {type(source).__name__}")
            self._f, self.name = source, getattr(source, "name", "<stream>")
        try:
            self._open()
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        f = self._f
        try:
            self.seekable = bool(f.seekable())
        except (AttributeError, OSError, ValueError):
            self.seekable = False
        self._base = f.tell() if self.seekable else 0
        s = _Stream(f, self._base, self.seekable)
        while True:
            res = Header.unpack(s.buf, s.pos)
            if res is not None:
                break
            if not s.fill(s.avail + 1):
                raise ContainerError(f"{self.name}: truncated .racv header ({s.avail} bytes)"
                                     if s.avail else f"{self.name}: empty file, not a .racv stream")
        self.header, used = res
        self._data_start = self._base + used
        s.pos += used
        self._stream = s  # the stream-mode cursor (used by iteration on non-seekable input)
        self._entries: list[tuple[int, int, int]] | None = None
        self._start = self._data_start
        self._index_end = None
        if self.seekable:
            self._entries = self._load_index()

    # -------------------------------------------------------------------------------- index
    def _load_index(self):
        f = self._f
        end = f.seek(0, os.SEEK_END)
        if end - self._data_start < index_size(0):
            return self._no_index("file too short for an index trailer")
        f.seek(end - 12)
        tail = f.read(12)
        if len(tail) != 12 or tail[8:] != END_MAGIC:
            return self._no_index("no index trailer at the end of the file")
        rel = int.from_bytes(tail[:8], "little")
        start = self._base + rel
        if not self._data_start <= start <= end - index_size(0):
            return self._no_index("index trailer position is out of range")
        count = (end - start - index_size(0)) // 20
        if count > MAX_INDEX_ENTRIES or index_size(count) != end - start:
            return self._no_index("index trailer size is inconsistent")
        f.seek(start)
        try:
            entries = unpack_index(_read_exact(f, end - start), rel, self.header.stream_id)
        except ContainerError as e:
            return self._no_index(str(e))
        if entries and entries[0][1] < self._data_start - self._base:
            return self._no_index("index trailer points into the header")
        self._index_end = start
        return [(i, self._base + o, p) for i, o, p in entries]

    def _no_index(self, why: str):
        if self.header.flags & HEADER_HAS_INDEX:
            self.index_error = why
        return None

    def _ensure_entries(self):
        if self._entries is None:
            if not self.seekable:
                raise NotSeekableError(f"{self.name}: length and random access need a seekable file")
            s = _Stream(self._f, self._data_start, True)
            self._entries = [(p.index, off, p.pts) for off, p in self._packets(s, full=True)]
        return self._entries

    # -------------------------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self._ensure_entries())

    @property
    def has_index(self) -> bool:
        """True when the index trailer was found intact (random access without a scan)."""
        return self._index_end is not None

    def frames(self) -> list[int]:
        """Frame indices of all packets (seekable input)."""
        return [e[0] for e in self._ensure_entries()]

    def __getitem__(self, i: int) -> Packet:
        entries = self._ensure_entries()
        if not isinstance(i, int):
            raise TypeError("packet position must be an int")
        frame, off, _ = entries[i]  # IndexError for out-of-range positions, like a list
        s = _Stream(self._f, off, True)
        while True:
            res = unpack_packet(s.buf, s.pos, max_size=self.max_packet)
            if res is not None:
                break
            if not s.fill(s.avail + 16):
                raise CorruptPacketError(f"frame {frame} is truncated", frame, off)
        pkt = res[0]
        self._check_stream(pkt, off)
        if pkt.index != frame:
            raise CorruptPacketError(f"index trailer says frame {frame} at byte {off}, the packet "
                                     f"there is frame {pkt.index}", frame, off)
        return pkt

    def seek(self, frame: int) -> None:
        """Make the next iteration start at the first packet whose index is >= frame."""
        entries = self._ensure_entries()
        k = bisect.bisect_left([e[0] for e in entries], frame)
        self._start = entries[k][1] if k < len(entries) else None

    def __iter__(self):
        if not self.seekable:
            return (p for _, p in self._packets(self._stream, full=True))
        if self._start is None:
            return iter(())
        s = _Stream(self._f, self._start, True)
        return (p for _, p in self._packets(s, full=self._start == self._data_start))

    # -------------------------------------------------------------------------------- parsing
    def _foreign(self, pkt: Packet) -> str | None:
        """Why ``pkt`` is not a packet of this stream (format 2.0 stream ids), or None."""
        want = self.header.stream_id
        if want and pkt.stream_id != want:
            got = f"stream {pkt.stream_id:08x}" if pkt.stream_id else "no stream id"
            return (f"frame {pkt.index} belongs to another stream ({got}, this stream is {want:08x}): "
                    "spliced or mixed files")
        return None

    def _check_stream(self, pkt: Packet, off: int) -> None:
        why = self._foreign(pkt)
        if why:
            raise CorruptPacketError(f"{self.name}: {why}", pkt.index, off)

    def _damage(self, msg: str, frames=()) -> None:
        new = [fr for fr in frames if fr not in self._damaged_set]
        if new:
            self._damaged_set.update(new)
            self.damaged.extend(new)
            self.damaged.sort()
        if len(self.errors) < 1000 and msg not in self.errors:  # (bounded: one message per damage)
            self.errors.append(msg)

    def _packets(self, s: _Stream, full: bool):
        """Yield (absolute offset, packet) from s; ``full``: s starts at the first packet, so the
        trailer can be checked against everything read."""
        last = None            # index of the last good packet
        seen = []              # (index, offset, pts) of good packets, for the trailer check
        lost = False           # damage since the last good packet
        while True:
            s.fill(16)
            if s.avail == 0:
                if self.header.flags & HEADER_HAS_INDEX:
                    msg = (f"{self.name}: stream ends after frame {last} without its index trailer "
                           "(the file is truncated or the writer did not finish)")
                    if not self.skip_damaged:
                        raise ContainerError(msg)
                    self.truncated = True
                    self._damage(msg)
                return
            err = None
            try:
                res = unpack_packet(s.buf, s.pos, max_size=self.max_packet)
                if res is None:
                    need = packet_size(s.buf, s.pos, max_size=self.max_packet) or 16
                    if not s.fill(need):
                        frame = int.from_bytes(s.buf[s.pos + 8:s.pos + 12], "little") if s.avail >= 16 else None
                        raise CorruptPacketError(
                            f"{self.name}: " + (f"frame {frame} is truncated" if frame is not None else
                                                f"truncated packet after frame {last}"), frame, s.offset)
                    continue
            except EndOfPackets:
                err = "end"
            except CorruptPacketError as e:
                err = (str(e), e.frame, e.length)
            if err == "end":  # (outside the except block, which keeps views of the buffer alive)
                self._trailer(s, seen if full and not lost and not self.damaged else None)
                return
            if err is None:
                pkt, used = res
                foreign = self._foreign(pkt)
                if foreign:
                    err = (foreign, None, used)
                elif last is not None and pkt.index <= last:
                    err = (f"frame {pkt.index} follows frame {last}: out of order", None, used)
                else:
                    off = s.offset
                    s.pos += used
                    if lost:
                        lo = last + 1 if last is not None else (0 if full else pkt.index)
                        if pkt.index - lo > MAX_FRAME_GAP:  # not listed one by one (bounded memory)
                            self._damage(f"{self.name}: frames {lo}..{pkt.index - 1} ({pkt.index - lo} frames) "
                                         f"lost before frame {pkt.index}")
                        else:
                            gone = [i for i in range(lo, pkt.index) if i not in self._damaged_set]
                            if gone:
                                self._damage(f"{self.name}: frames {gone[0]}..{gone[-1]} lost before frame "
                                             f"{pkt.index}", gone)
                        lost = False
                    last = pkt.index
                    seen.append((pkt.index, off, pkt.pts))
                    yield off, pkt
                    continue
            msg, frame, length = err
            if frame is None and not self.skip_damaged:
                guess = 0 if last is None else last + 1
                msg += f" (frame {guess} or later)"
                frame = guess
            if not msg.startswith(self.name):
                msg = f"{self.name}: {msg}"
            if not self.skip_damaged:
                raise CorruptPacketError(msg, frame, s.offset)
            self._damage(msg, [frame] if frame is not None else [])
            lost = True
            here = s.offset
            if not s.find_marker(here + (length or 1)):
                self.truncated = True
                return

    def _trailer(self, s: _Stream, seen) -> None:
        start = s.offset
        try:
            s.fill(8)
            count = int.from_bytes(s.buf[s.pos + 4:s.pos + 8], "little") if s.avail >= 8 else -1
            if not 0 <= count <= MAX_INDEX_ENTRIES:
                raise ContainerError("truncated or damaged index trailer")
            size = index_size(count)
            if not s.fill(size):
                raise ContainerError("truncated index trailer")
            entries = unpack_index(bytes(s.buf[s.pos:s.pos + size]), start - self._base, self.header.stream_id)
            s.pos += size
            if seen is not None and [(i, self._base + o, p) for i, o, p in entries] != seen:
                raise ContainerError("the index trailer does not match the packets")
            if s.fill(1):
                raise ContainerError(f"unexpected data after the index trailer (at least {s.avail} bytes)")
            self.trailer_ok = True
        except ContainerError as e:
            msg = f"{self.name}: {e} (at byte {start})"
            if not self.skip_damaged:
                raise ContainerError(msg) from None
            self._damage(msg)

    # -------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        if self._own and not self._f.closed:
            self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
