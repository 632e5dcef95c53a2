"""Wire format of the stream: ``.racv`` header and packets (``rac_video.container``) in small messages.

Downstream (server → client), each message is ``kind u8, length u32 (little-endian), body``:

* ``HEADER`` — the ``.racv`` header bytes (model, weights hash, size, frame rate, colour, settings).
* ``FRAME``  — a :class:`Timing` record (server-side timestamps on the host's monotonic clock) followed
  by one ``.racv`` packet (index, pts, quality, side info = importance levels, payload).
* ``END``    — the source has no more frames; the body is empty or a JSON object (the server's
  session report; ``{"error": ...}`` when the server refuses the connection, e.g. when it is full).

Upstream (client → server): JSON lines (at most ``MAX_GAZE_LINE`` bytes each): a greeting
``{"hello": 1}`` right after connecting (the server closes a connection that sends no valid line
within its handshake timeout), gaze samples
``{"seq": int, "t": client monotonic seconds, "x": px, "y": px}`` in frame pixels, and cumulative
acknowledgements ``{"ack": index}`` (the client is done with every frame up to ``index``: shown,
or skipped as late or undecodable), used by the server's optional send window, optionally with
``"dec": j``, the newest frame the client decoded (j ≤ index): with P-frames (``--gop`` > 1) the
server predicts from that frame, so a lost packet costs itself and one round trip, never a wait for
the next intra frame.
"""
from __future__ import annotations

import json
import math
import struct
from dataclasses import astuple, dataclass

from ..container import ContainerError, CorruptPacketError, Header, Packet, unpack_packet

__all__ = ["HEADER", "FRAME", "END", "MAX_MESSAGE", "MAX_GAZE_LINE", "ProtocolError", "Timing", "Header",
           "Packet", "ContainerError", "CorruptPacketError", "message", "frame_message", "parse_frame",
           "GazeSample", "parse_gaze", "gaze_line", "Ack", "ack_line", "parse_upstream", "Hello", "HELLO_LINE",
           "MAX_END_REPORT", "parse_end"]

HEADER, FRAME, END = 1, 2, 3
MAX_MESSAGE = 32 << 20
MAX_GAZE_LINE = 1024
MAX_END_REPORT = 1 << 16  # bytes of an END message's JSON report the client parses
HELLO_LINE = b'{"hello":1}\n'
_MSG = struct.Struct("<BI")
_TIMING = struct.Struct("<Iq8dI")
TIMING_SIZE = _TIMING.size


class ProtocolError(ValueError):
    """A stream message that cannot be parsed (bad kind, length, timing record or packet)."""


@dataclass
class Timing:
    """Server-side record of one frame (seconds on the shared monotonic clock; NaN = not applicable)."""

    index: int
    gaze_seq: int            # seq of the gaze sample the map was built from (-1: none)
    capture: float
    map_built: float
    encode_start: float
    encode_end: float
    send: float              # handed to the (emulated) network
    wire: float              # written to the socket, after emulation
    gaze_arrival: float      # when that gaze sample reached the server
    gaze_client: float       # when the client sent it (client clock = same host clock)
    server_dropped: int      # frames the server dropped so far in this session

    def to_bytes(self) -> bytes:
        return _TIMING.pack(*astuple(self))


def message(kind: int, body: bytes = b"") -> bytes:
    if len(body) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(body)} bytes exceeds {MAX_MESSAGE}")
    return _MSG.pack(kind, len(body)) + body


def frame_message(timing: Timing, packet_bytes: bytes) -> bytes:
    return message(FRAME, timing.to_bytes() + packet_bytes)


def split_header(buf: bytes):
    """(kind, length) of a 5-byte message header; raises ProtocolError on nonsense."""
    kind, n = _MSG.unpack(buf)
    if kind not in (HEADER, FRAME, END):
        raise ProtocolError(f"unknown message kind {kind}")
    if n > MAX_MESSAGE:
        raise ProtocolError(f"message length {n} exceeds {MAX_MESSAGE}")
    return kind, n


MSG_HEADER_SIZE = _MSG.size


def parse_frame(body: bytes) -> tuple[Timing, Packet]:
    """Timing record and packet of a FRAME body; ProtocolError when malformed."""
    if len(body) < _TIMING.size:
        raise ProtocolError("frame message shorter than its timing record")
    t = Timing(*_TIMING.unpack_from(body))
    try:
        r = unpack_packet(body, _TIMING.size)
    except ContainerError as e:
        raise ProtocolError(f"corrupt packet: {e}") from None
    if r is None:
        raise ProtocolError("truncated packet in frame message")
    pkt, used = r
    if _TIMING.size + used != len(body):
        raise ProtocolError("trailing bytes after the packet")
    if pkt.index != t.index:
        raise ProtocolError(f"packet index {pkt.index} differs from timing index {t.index}")
    return t, pkt


@dataclass
class GazeSample:
    seq: int
    t: float   # client send time
    x: float
    y: float


def gaze_line(s: GazeSample) -> bytes:
    return json.dumps({"seq": s.seq, "t": s.t, "x": s.x, "y": s.y}, separators=(",", ":")).encode() + b"\n"


@dataclass
class Ack:
    index: int
    decoded: int | None = None   # the newest frame the client decoded (a reference P-frames may use)


@dataclass
class Hello:
    version: int


def parse_end(body: bytes) -> dict:
    """The JSON report of an END message ({} when empty); ValueError when malformed, too long or nested
    too deeply (never RecursionError)."""
    if not body:
        return {}
    if len(body) > MAX_END_REPORT:
        raise ValueError(f"end-of-stream report of {len(body)} bytes (limit {MAX_END_REPORT})")
    from ..container.format import loads_settings

    return loads_settings(body, "end-of-stream report")


def ack_line(index: int, decoded: int | None = None) -> bytes:
    if decoded is None:
        return b'{"ack":%d}\n' % int(index)
    return b'{"ack":%d,"dec":%d}\n' % (int(index), int(decoded))


def parse_upstream(line: bytes, frame_wh):
    """A :class:`GazeSample` or an :class:`Ack`; ValueError with a reason when malformed (the caller
    logs and goes on)."""
    if len(line) > MAX_GAZE_LINE:
        raise ValueError(f"upstream line longer than {MAX_GAZE_LINE} bytes")
    try:
        d = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"upstream line is not JSON ({e.__class__.__name__})") from None
    if not isinstance(d, dict):
        raise ValueError("upstream line must be a JSON object")
    if "ack" in d:
        a, dec = d["ack"], d.get("dec")
        if (len(d) != 1 + ("dec" in d) or isinstance(a, bool) or not isinstance(a, int) or not 0 <= a < 2 ** 32
                or (dec is not None and (isinstance(dec, bool) or not isinstance(dec, int) or not 0 <= dec <= a))):
            raise ValueError(f"ack must be a frame index with at most a decoded frame index <= it (dec), "
                             f"got {d!r:.80}")
        return Ack(a, dec)
    if "hello" in d:
        v = d["hello"]
        if len(d) != 1 or isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 2 ** 16:
            raise ValueError(f"hello must be the only field and a small positive integer, got {d!r:.80}")
        return Hello(v)
    return _gaze_from(d, frame_wh)


def parse_gaze(line: bytes, frame_wh) -> GazeSample:
    """Validate one gaze line; ValueError with a reason when malformed or not a gaze sample."""
    r = parse_upstream(line, frame_wh)
    if not isinstance(r, GazeSample):
        raise ValueError("not a gaze sample")
    return r


def _gaze_from(d: dict, frame_wh) -> GazeSample:
    missing = [k for k in ("seq", "t", "x", "y") if k not in d]
    if missing:
        raise ValueError(f"gaze line lacks {', '.join(missing)}")
    seq = d["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2 ** 62:
        raise ValueError(f"gaze seq must be a non-negative integer, got {seq!r}")
    vals = []
    for k in ("t", "x", "y"):
        v = d[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"gaze {k} must be a finite number, got {v!r}")
        vals.append(float(v))
    W, H = frame_wh
    if not (0 <= vals[1] < W and 0 <= vals[2] < H):
        raise ValueError(f"gaze point ({vals[1]:.1f}, {vals[2]:.1f}) outside the {W}x{H} frame")
    return GazeSample(seq, *vals)
