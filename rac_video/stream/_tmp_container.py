"""TEMPORARY stand-in for ``rac_video.container`` (packet framing), used only while that module has not
landed on main. Same API as agreed (Packet, unpack_packet, read_packet, Header, ContainerError,
CorruptPacketError); the byte layout here is this file's own and is not the .racv format. Delete this
file once ``rac_video/container.py`` exists (``framing`` prefers the real module)."""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, field

_PMAGIC = b"RPKT"
_PHEAD = struct.Struct("<4sIIqBBII")  # magic, crc, index, pts, quality, flags, len(side), len(payload)
_HMAGIC = b"RACVTMP1"
MAX_PACKET = 64 << 20


class ContainerError(ValueError):
    pass


class CorruptPacketError(ContainerError):
    pass


@dataclass
class Packet:
    index: int
    pts: int
    quality: int
    side_info: bytes
    payload: bytes
    flags: int = 0

    def to_bytes(self) -> bytes:
        body = bytes(self.side_info) + bytes(self.payload)
        head = _PHEAD.pack(_PMAGIC, 0, self.index, self.pts, self.quality, self.flags,
                           len(self.side_info), len(self.payload))
        crc = zlib.crc32(head[8:] + body)
        return _PHEAD.pack(_PMAGIC, crc, self.index, self.pts, self.quality, self.flags,
                           len(self.side_info), len(self.payload)) + body


def unpack_packet(buf, offset: int = 0):
    mv = memoryview(buf)[offset:]
    if len(mv) < _PHEAD.size:
        return None
    magic, crc, index, pts, q, flags, ns, npay = _PHEAD.unpack_from(mv)
    if magic != _PMAGIC:
        raise CorruptPacketError("bad packet magic")
    if ns + npay > MAX_PACKET:
        raise CorruptPacketError("packet too large")
    end = _PHEAD.size + ns + npay
    if len(mv) < end:
        return None
    if zlib.crc32(bytes(mv[8:end])) != crc:
        raise CorruptPacketError("packet CRC mismatch")
    side = bytes(mv[_PHEAD.size:_PHEAD.size + ns])
    return Packet(index, pts, q, side, bytes(mv[_PHEAD.size + ns:end]), flags), end


def read_packet(f):
    head = f.read(_PHEAD.size)
    if not head:
        return None
    if len(head) < _PHEAD.size:
        raise CorruptPacketError("truncated packet header")
    ns, npay = _PHEAD.unpack_from(head)[-2:]
    if ns + npay > MAX_PACKET:
        raise CorruptPacketError("packet too large")
    body = f.read(ns + npay)
    r = unpack_packet(head + body)
    if r is None:
        raise CorruptPacketError("truncated packet")
    return r[0]


@dataclass
class Header:
    model: str
    weights_hash: str
    width: int
    height: int
    fps_num: int
    fps_den: int
    color: str = "rgb24"
    settings: dict = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        body = json.dumps(self.__dict__, sort_keys=True).encode()
        return _HMAGIC + struct.pack("<I", len(body)) + body

    @classmethod
    def from_bytes(cls, buf):
        b = bytes(buf)
        if len(b) < 12 or b[:8] != _HMAGIC:
            raise ContainerError("bad header magic")
        (n,) = struct.unpack_from("<I", b, 8)
        if n > 1 << 20 or len(b) < 12 + n:
            raise ContainerError("bad or truncated header")
        try:
            d = json.loads(b[12:12 + n])
            return cls(**d), 12 + n
        except (ValueError, TypeError) as e:
            raise ContainerError(f"bad header: {e}") from None
