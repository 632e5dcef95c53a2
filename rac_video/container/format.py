"""Byte layout of ``.racv``: the file header, one packet per frame, the optional index trailer.

Everything is little-endian. See ``docs/container.md`` for the tables. The functions here work
on byte buffers (a file's bytes or a socket's receive buffer) and never read more than they are
given; :mod:`.reader` and :mod:`.writer` build the file API on top of them.
"""
from __future__ import annotations

import json
import re
import struct
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import CorruptStreamError, InvalidInputError

__all__ = [
    "MAGIC", "VERSION", "MINOR_VERSION", "READ_VERSIONS", "SYNC", "INDEX_MAGIC", "END_MAGIC", "HEADER_HAS_INDEX",
    "MAX_HEADER", "MAX_PACKET", "MAX_INDEX_ENTRIES", "PACKET_OVERHEAD",
    "ContainerError", "CorruptPacketError", "EndOfPackets",
    "Header", "Packet", "unpack_packet", "packet_size", "pack_index", "unpack_index", "loads_settings",
    "MAX_SETTINGS_DEPTH", "MAX_DIMENSION", "MAX_PIXELS",
]

MAGIC = b"RACV"
VERSION = 2            # major written (2.0: stream id); a reader refuses a major it does not know
MINOR_VERSION = 0      # minor: newer minors only append fields that older readers skip
READ_VERSIONS = (1, 2)  # majors this reader reads (1.x files keep reading)
SYNC = b"RVPK"         # start of every packet (resynchronisation point)
INDEX_MAGIC = b"RVIX"  # start of the index trailer (ends the packet sequence)
END_MAGIC = b"RVND"    # last 4 bytes of a file that has an index trailer

HEADER_HAS_INDEX = 0x1  # header flag: the writer promised an index trailer at the end

MAX_HEADER = 1 << 20          # bytes of header body
MAX_PACKET = 1 << 28          # bytes of packet body (everything between the fixed part and the CRC)
MAX_INDEX_ENTRIES = 1 << 26
MAX_FRAME_GAP = 3000          # frames a reader lists (and a decoder replaces) for one gap: 1 min at 50 fps
MAX_SETTINGS_DEPTH = 16       # nesting of the settings JSON (objects / arrays)
MAX_DIMENSION = 16384         # width and height a reader accepts (pixels)
MAX_PIXELS = 7680 * 4320      # width x height a reader accepts (8K UHD)

_HEAD_FIXED = struct.Struct("<4sBBHI")      # magic, major, minor, flags, body length
_HEAD_BODY = struct.Struct("<IIII")         # width, height, fps_num, fps_den
_PKT_FIXED = struct.Struct("<4sIII")        # sync, body length, frame index, CRC32 of the first 12 bytes
_PKT_FIELDS = struct.Struct("<qHHIH")       # pts, quality, flags, side-info length, extension length
_IDX_HEAD = struct.Struct("<4sI")           # "RVIX", entry count
_IDX_ENTRY = struct.Struct("<IQq")          # frame index, offset (from the header's first byte), pts
_IDX_TAIL = struct.Struct("<IQ4s")          # CRC32, offset of "RVIX", "RVND"
_STREAM_ID = struct.Struct("<I")            # 2.0: last header field and first packet extension field
_REF = struct.Struct("<I")                  # packet extension field 2: a P-frame's reference frame index
# bytes around side info + payload of a 2.0 packet (with its stream id); 38 for a 1.x packet
PACKET_OVERHEAD = _PKT_FIXED.size + _PKT_FIELDS.size + _STREAM_ID.size + 4

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_U32 = (1 << 32) - 1


class ContainerError(InvalidInputError):
    """A ``.racv`` stream is malformed, truncated, of an unsupported version, or a value cannot be stored."""


class CorruptPacketError(ContainerError, CorruptStreamError):
    """A packet failed its checks. ``frame``: index of the damaged packet when known, else None;
    ``offset``: byte offset of the damage in the buffer / file when known; ``length``: the packet's
    total size when its fixed part was intact (so a reader can step over it), else None."""

    def __init__(self, message: str, frame: int | None = None, offset: int | None = None,
                 length: int | None = None):
        super().__init__(message)
        self.frame, self.offset, self.length = frame, offset, length


class EndOfPackets(ContainerError):
    """The buffer holds the index trailer where a packet would start: the packet sequence is over."""


def _crc(*parts) -> int:
    c = 0
    for p in parts:
        c = zlib.crc32(p, c)
    return c & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------- header

@dataclass
class Header:
    """Stream parameters; ``settings`` is any JSON object (quality mode, steps, levels, seed, ...).

    ``flags`` is set by :class:`~rac_video.container.Writer` (``HEADER_HAS_INDEX``)."""

    model: str
    weights_hash: str
    width: int
    height: int
    fps_num: int
    fps_den: int
    color: str = "rgb24"
    settings: dict = field(default_factory=dict)
    flags: int = 0
    # 2.0: random non-zero id that every packet of the stream carries (0 / None: none, as in 1.x files);
    # the Writer draws one. Not part of equality: two headers describe the same stream parameters.
    stream_id: int | None = field(default=None, compare=False)

    @property
    def fps(self) -> Fraction:
        return Fraction(self.fps_num, self.fps_den)

    def pts_seconds(self, pts: int) -> float:
        """Packet pts (units of 1/fps) in seconds."""
        return pts * self.fps_den / self.fps_num

    def to_bytes(self) -> bytes:
        model = _text(self.model, "model", 255)
        color = _text(self.color, "color", 255)
        if not model:
            raise ContainerError("model name must not be empty")
        if not isinstance(self.weights_hash, str) or not _HEX64.match(self.weights_hash.lower()):
            raise ContainerError(f"weights_hash must be 64 hex digits (sha256), got {self.weights_hash!r}")
        for name in ("width", "height", "fps_num", "fps_den"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= _U32:
                raise ContainerError(f"{name} must be an integer in [1, 2^32), got {v!r}")
        if self.width > MAX_DIMENSION or self.height > MAX_DIMENSION or self.width * self.height > MAX_PIXELS:
            raise ContainerError(f"frame size {self.width}x{self.height} is over the limit ({MAX_DIMENSION} per "
                                 f"side, {MAX_PIXELS} pixels)")
        if not isinstance(self.flags, int) or not 0 <= self.flags <= 0xFFFF:
            raise ContainerError(f"flags must fit 16 bits, got {self.flags!r}")
        sid = self.stream_id or 0
        if not isinstance(sid, int) or isinstance(sid, bool) or not 0 <= sid <= _U32:
            raise ContainerError(f"stream_id must be an integer in [0, 2^32), got {self.stream_id!r}")
        if not isinstance(self.settings, dict):
            raise ContainerError(f"settings must be a dict, got {type(self.settings).__name__}")
        if _depth(self.settings) > MAX_SETTINGS_DEPTH:
            raise ContainerError(f"settings are nested deeper than {MAX_SETTINGS_DEPTH} levels")
        try:
            settings = json.dumps(self.settings, sort_keys=True, separators=(",", ":"),
                                  allow_nan=False).encode()
        except (TypeError, ValueError) as e:
            raise ContainerError(f"settings are not JSON-serialisable: {e}") from None
        body = b"".join([
            _HEAD_BODY.pack(self.width, self.height, self.fps_num, self.fps_den),
            bytes([len(model)]), model, bytes.fromhex(self.weights_hash),
            bytes([len(color)]), color, struct.pack("<I", len(settings)), settings, _STREAM_ID.pack(sid)])
        if len(body) > MAX_HEADER:
            raise ContainerError(f"header of {len(body)} bytes exceeds {MAX_HEADER}")
        head = _HEAD_FIXED.pack(MAGIC, VERSION, MINOR_VERSION, self.flags, len(body)) + body
        return head + struct.pack("<I", _crc(head))

    @classmethod
    def unpack(cls, buf, offset: int = 0) -> tuple["Header", int] | None:
        """Parse a header at ``buf[offset:]``; None when more bytes are needed (and the ones
        present look like a header); raises ContainerError on anything else."""
        # (copies, never views: a caller may resize its receive buffer while an error propagates)
        n = len(buf) - offset
        head = bytes(buf[offset:offset + _HEAD_FIXED.size])
        if head[:4] != MAGIC[:min(n, 4)]:
            raise ContainerError(f"not a .racv stream (starts with {head[:4]!r}, expected {MAGIC!r})")
        if n < _HEAD_FIXED.size:
            return None
        _, major, minor, flags, blen = _HEAD_FIXED.unpack(head)
        if major not in READ_VERSIONS:
            raise ContainerError(f".racv format version {major}.{minor} is not supported (this reader "
                                 f"reads {' and '.join(f'{v}.x' for v in READ_VERSIONS)}"
                                 f"{'; upgrade rac_video' if major > VERSION else ''})")
        if blen > MAX_HEADER:
            raise ContainerError(f"header length {blen} exceeds the limit {MAX_HEADER}")
        total = _HEAD_FIXED.size + blen + 4
        if n < total:
            return None
        mv = memoryview(bytes(buf[offset:offset + total]))
        (crc,) = struct.unpack_from("<I", mv, total - 4)
        if _crc(mv[:total - 4]) != crc:
            raise ContainerError("header checksum mismatch: the file header is damaged")
        return _parse_body(mv[_HEAD_FIXED.size:total - 4], flags, major), total

    @classmethod
    def from_bytes(cls, buf) -> tuple["Header", int]:
        """(header, bytes consumed); a truncated buffer is a ContainerError."""
        res = cls.unpack(buf)
        if res is None:
            raise ContainerError(f"truncated header ({len(buf)} bytes)")
        return res


def _text(s, name: str, limit: int) -> bytes:
    if not isinstance(s, str):
        raise ContainerError(f"{name} must be a str, got {type(s).__name__}")
    b = s.encode()
    if len(b) > limit:
        raise ContainerError(f"{name} is longer than {limit} bytes")
    return b


def _parse_body(body: memoryview, flags: int, major: int) -> Header:
    pos = 0

    def take(k: int) -> memoryview:
        nonlocal pos
        if pos + k > len(body):
            raise ContainerError("header body is shorter than its fields")
        pos += k
        return body[pos - k:pos]

    w, h, fn, fd = _HEAD_BODY.unpack(take(_HEAD_BODY.size))
    try:
        model = bytes(take(take(1)[0])).decode()
        whash = bytes(take(32)).hex()
        color = bytes(take(take(1)[0])).decode()
        settings = loads_settings(bytes(take(struct.unpack("<I", take(4))[0])))
    except UnicodeDecodeError as e:
        raise ContainerError(f"header field cannot be decoded: {e}") from None
    if not model:
        raise ContainerError("header has an empty model name")
    if min(w, h, fn, fd) == 0:
        raise ContainerError(f"header has a zero size or frame rate ({w}x{h} @ {fn}/{fd})")
    if w > MAX_DIMENSION or h > MAX_DIMENSION or w * h > MAX_PIXELS:
        raise ContainerError(f"header frame size {w}x{h} is over the limit ({MAX_DIMENSION} per side, "
                             f"{MAX_PIXELS} pixels)")
    sid = None
    if major >= 2:
        sid = _STREAM_ID.unpack(take(_STREAM_ID.size))[0] or None
    # bytes after the known fields are the extension area of newer minor versions: skipped
    return Header(model, whash, w, h, fn, fd, color, settings, flags, sid)


def _reject_constant(name):
    raise ValueError(f"{name} is not allowed")


def _finite_float(text):
    v = float(text)
    if v != v or v in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range")
    return v


def _depth(obj) -> int:
    """Nesting depth of a parsed JSON value (iterative: no recursion limit)."""
    best, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            o = list(o.values())
        elif not isinstance(o, list):
            continue
        best = max(best, d)
        if d <= MAX_SETTINGS_DEPTH:  # deeper levels only need to be seen once
            stack.extend((v, d + 1) for v in o)
    return best


def loads_settings(raw: bytes, what: str = "header settings") -> dict:
    """Parse a settings JSON object: strict UTF-8, no NaN/Infinity, nesting <= MAX_SETTINGS_DEPTH.
    Every failure is a ContainerError (never RecursionError / OverflowError)."""
    try:
        obj = json.loads(bytes(raw).decode(), parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ContainerError(f"{what} are nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ContainerError(f"{what} cannot be decoded: {e}") from None
    if not isinstance(obj, dict):
        raise ContainerError(f"{what} are not a JSON object")
    if _depth(obj) > MAX_SETTINGS_DEPTH:
        raise ContainerError(f"{what} are nested deeper than {MAX_SETTINGS_DEPTH} levels")
    return obj


# ---------------------------------------------------------------------------------------- packet

@dataclass
class Packet:
    """One coded frame. ``pts`` counts frame periods (1/fps, see Header.fps); ``side_info`` is the
    importance side information, ``payload`` the entropy-coded frame; ``flags`` is free for the
    application (16 bits)."""

    index: int
    pts: int
    quality: int
    side_info: bytes
    payload: bytes
    flags: int = 0
    # 2.0: the id of the stream the packet belongs to (the Writer sets it from its header); None: none
    stream_id: int | None = field(default=None, compare=False)
    # the frame index of the reference an inter (P) frame is predicted from; None: an intra (I) frame.
    # Packet extension field 2 (after the stream id), written only for P-frames: I-frame packets stay
    # byte-identical to 2.0 ones, and readers that predate it skip it (docs/container.md)
    ref: int | None = None

    @property
    def kind(self) -> str:
        """"I" (intra: decodable alone) or "P" (predicted from frame ``ref``)."""
        return "I" if self.ref is None else "P"

    def to_bytes(self) -> bytes:
        for name, lo, hi in (("index", 0, _U32), ("pts", -(1 << 63), (1 << 63) - 1),
                             ("quality", 0, 0xFFFF), ("flags", 0, 0xFFFF)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise ContainerError(f"packet {name} must be an integer in [{lo}, {hi}], got {v!r}")
        sid = self.stream_id or 0
        if not isinstance(sid, int) or isinstance(sid, bool) or not 0 <= sid <= _U32:
            raise ContainerError(f"packet stream_id must be an integer in [0, 2^32), got {self.stream_id!r}")
        ext = _STREAM_ID.pack(sid) if sid else b""
        if self.ref is not None:
            if not isinstance(self.ref, int) or isinstance(self.ref, bool) or not 0 <= self.ref < self.index:
                raise ContainerError(f"packet ref must be an earlier frame index, got {self.ref!r} for frame "
                                     f"{self.index}")
            ext = _STREAM_ID.pack(sid) + _REF.pack(self.ref)
        side, payload = bytes(self.side_info), bytes(self.payload)
        blen = _PKT_FIELDS.size + len(ext) + len(side) + len(payload)
        if blen > MAX_PACKET:
            raise ContainerError(f"packet {self.index} is {blen} bytes, over the limit {MAX_PACKET}")
        fixed = struct.pack("<4sII", SYNC, blen, self.index)
        head = fixed + struct.pack("<I", _crc(fixed))
        fields = _PKT_FIELDS.pack(self.pts, self.quality, self.flags, len(side), len(ext)) + ext
        return b"".join([head, fields, side, payload, struct.pack("<I", _crc(head, fields, side, payload))])


def _check_fixed(mv: bytes, offset: int, max_size: int):
    """(body length, frame index) of the packet whose fixed part starts at mv[0]; mv holds >= 16 bytes."""
    sync, blen, idx, hcrc = _PKT_FIXED.unpack_from(mv)
    if sync != SYNC:
        raise CorruptPacketError(f"no packet sync marker at byte {offset} (found {bytes(sync)!r})", offset=offset)
    if _crc(mv[:12]) != hcrc:
        raise CorruptPacketError(f"packet header at byte {offset} is damaged (checksum mismatch)", offset=offset)
    if not _PKT_FIELDS.size <= blen <= max_size:
        raise CorruptPacketError(f"frame {idx}: packet body length {blen} is outside [{_PKT_FIELDS.size}, "
                                 f"{max_size}]", idx, offset)
    return blen, idx


def packet_size(buf, offset: int = 0, *, max_size: int = MAX_PACKET) -> int | None:
    """Total size of the packet starting at ``buf[offset]`` (checks its fixed part), or None when
    fewer than 16 bytes are there. Lets a stream reader know how many bytes to wait for."""
    mv = bytes(buf[offset:offset + _PKT_FIXED.size])  # a copy (see Header.unpack)
    head = mv[:4]
    if head == INDEX_MAGIC:
        raise EndOfPackets(f"index trailer at byte {offset}")
    if len(mv) < _PKT_FIXED.size:
        if head != SYNC[:len(head)] and head != INDEX_MAGIC[:len(head)]:
            raise CorruptPacketError(f"no packet sync marker at byte {offset} (found {head!r})", offset=offset)
        return None
    return _PKT_FIXED.size + _check_fixed(mv, offset, max_size)[0] + 4


def unpack_packet(buf, offset: int = 0, *, max_size: int = MAX_PACKET) -> tuple[Packet, int] | None:
    """Parse the packet at ``buf[offset:]``: (packet, bytes consumed), or None when the buffer ends
    before the packet does. Raises CorruptPacketError on damage (``.frame`` set when the packet's
    fixed part is intact) and EndOfPackets at the index trailer."""
    total = packet_size(buf, offset, max_size=max_size)
    if total is None or len(buf) - offset < total:
        return None
    mv = memoryview(bytes(buf[offset:offset + total]))  # a copy (see Header.unpack)
    idx = _PKT_FIXED.unpack_from(mv)[2]
    (crc,) = struct.unpack_from("<I", mv, total - 4)
    if _crc(mv[:total - 4]) != crc:
        raise CorruptPacketError(f"frame {idx} is damaged (packet checksum mismatch)", idx, offset, total)
    pts, quality, flags, slen, elen = _PKT_FIELDS.unpack_from(mv, _PKT_FIXED.size)
    start = _PKT_FIXED.size + _PKT_FIELDS.size + elen  # extension bytes of newer minors: skipped
    if start + slen > total - 4:
        raise CorruptPacketError(f"frame {idx}: side info or extension length ({slen}, {elen}) overruns the "
                                 "packet", idx, offset, total)
    sid = None
    if elen >= _STREAM_ID.size:  # 2.0: the extension area starts with the stream id
        sid = _STREAM_ID.unpack_from(mv, _PKT_FIXED.size + _PKT_FIELDS.size)[0] or None
    ref = None
    if elen >= _STREAM_ID.size + _REF.size:  # the reference of a P-frame
        ref = _REF.unpack_from(mv, _PKT_FIXED.size + _PKT_FIELDS.size + _STREAM_ID.size)[0]
        if ref >= idx:
            raise CorruptPacketError(f"frame {idx}: its reference frame {ref} is not an earlier frame", idx, offset,
                                     total)
    side = bytes(mv[start:start + slen])
    payload = bytes(mv[start + slen:total - 4])
    return Packet(idx, pts, quality, side, payload, flags, sid, ref), total


# ---------------------------------------------------------------------------------------- index

def _index_crc(body, stream_id) -> int:
    # 2.0: the trailer's CRC starts from the stream id, so a trailer of another stream never checks out
    return _crc(_STREAM_ID.pack(stream_id), body) if stream_id else _crc(body)


def pack_index(entries, index_offset: int, stream_id: int | None = None) -> bytes:
    """Trailer bytes for ``entries`` = [(frame index, offset, pts)], starting at ``index_offset``."""
    head = _IDX_HEAD.pack(INDEX_MAGIC, len(entries)) + b"".join(_IDX_ENTRY.pack(*e) for e in entries)
    return head + _IDX_TAIL.pack(_index_crc(head, stream_id), index_offset, END_MAGIC)


def index_size(count: int) -> int:
    return _IDX_HEAD.size + count * _IDX_ENTRY.size + _IDX_TAIL.size


def unpack_index(buf, index_offset: int, stream_id: int | None = None):
    """Parse a complete trailer (``buf`` starts at "RVIX" and ends at "RVND") written at
    ``index_offset``: list of (frame, offset, pts). Checks CRC, offsets and ordering."""
    mv = memoryview(buf)
    if len(mv) < _IDX_HEAD.size + _IDX_TAIL.size:
        raise ContainerError("truncated index trailer")
    magic, count = _IDX_HEAD.unpack_from(mv)
    if magic != INDEX_MAGIC:
        raise ContainerError("index trailer marker missing")
    if count > MAX_INDEX_ENTRIES or len(mv) != index_size(count):
        raise ContainerError(f"index trailer of {len(mv)} bytes does not hold {count} entries")
    body = len(mv) - _IDX_TAIL.size
    crc, off, end = _IDX_TAIL.unpack_from(mv, body)
    if end != END_MAGIC or off != index_offset:
        raise ContainerError("index trailer end marker or position is wrong")
    if _index_crc(mv[:body], stream_id) != crc:
        raise ContainerError("index trailer checksum mismatch (damaged, or the trailer of another stream)")
    entries = [_IDX_ENTRY.unpack_from(mv, _IDX_HEAD.size + i * _IDX_ENTRY.size) for i in range(count)]
    for a, b in zip(entries, entries[1:]):
        if b[0] <= a[0] or b[1] <= a[1]:
            raise ContainerError("index trailer entries are not in increasing order")
    if entries and entries[-1][1] >= index_offset:
        raise ContainerError("index trailer points past its own position")
    return entries
