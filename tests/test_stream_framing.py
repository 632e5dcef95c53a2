import json
import math

import pytest

from rac_video.stream import framing
from rac_video.stream.gazeio import GazeInbox, LineSplitter


def _timing(i=3):
    return framing.Timing(i, 5, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 0.9, 0.8, 2)


def test_frame_message_roundtrip():
    pkt = framing.Packet(index=3, pts=3, quality=7, side_info=b"side", payload=b"payload" * 10)
    msg = framing.frame_message(_timing(), pkt.to_bytes())
    kind, n = framing.split_header(msg[:framing.MSG_HEADER_SIZE])
    assert kind == framing.FRAME and n == len(msg) - framing.MSG_HEADER_SIZE
    t, p = framing.parse_frame(msg[framing.MSG_HEADER_SIZE:])
    assert t == _timing() and (p.index, p.quality, p.side_info, p.payload) == (3, 7, b"side", b"payload" * 10)


def test_frame_message_errors():
    pkt = framing.Packet(index=3, pts=3, quality=7, side_info=b"s", payload=b"p" * 50).to_bytes()
    body = _timing().to_bytes() + pkt
    with pytest.raises(framing.ProtocolError):
        framing.parse_frame(body[:10])
    with pytest.raises(framing.ProtocolError):
        framing.parse_frame(body[:-5])                       # truncated packet
    with pytest.raises(framing.ProtocolError):
        framing.parse_frame(body + b"x")                     # trailing bytes
    bad = bytearray(body)
    bad[-1] ^= 0xFF
    with pytest.raises(framing.ProtocolError):
        framing.parse_frame(bytes(bad))                      # CRC
    with pytest.raises(framing.ProtocolError):
        framing.parse_frame(_timing(4).to_bytes() + pkt)     # index mismatch
    with pytest.raises(framing.ProtocolError):
        framing.split_header(bytes([9, 0, 0, 0, 0]))
    with pytest.raises(framing.ProtocolError):
        framing.split_header(bytes([2, 255, 255, 255, 255]))


def test_gaze_line_roundtrip():
    s = framing.GazeSample(4, 12.5, 100.25, 50.0)
    assert framing.parse_gaze(framing.gaze_line(s).strip(), (416, 240)) == s


@pytest.mark.parametrize("line", [
    b"not json", b"\xff\xfe", b"[1, 2]", b'{"seq": 1, "t": 0, "x": 1}', b'{"seq": -1, "t": 0, "x": 1, "y": 1}',
    b'{"seq": true, "t": 0, "x": 1, "y": 1}', b'{"seq": 1, "t": 0, "x": NaN, "y": 1}',
    b'{"seq": 1, "t": 0, "x": "3", "y": 1}', b'{"seq": 1, "t": 0, "x": 416, "y": 1}',
    b'{"seq": 1, "t": 0, "x": 1, "y": -0.5}', b'{"seq": 1.5, "t": 0, "x": 1, "y": 1}', b"x" * 2000])
def test_malformed_gaze_rejected(line):
    with pytest.raises(ValueError):
        framing.parse_gaze(line, (416, 240))
    box = GazeInbox((416, 240))
    box.feed(line, 1.0)
    assert box.bad == 1 and box.latest is None


def test_inbox_keeps_newest_and_ignores_stale():
    box = GazeInbox((416, 240))
    for seq in (1, 3, 2):
        box.feed(json.dumps({"seq": seq, "t": 0.0, "x": seq, "y": 1}).encode(), 10.0 + seq)
    assert box.latest.sample.seq == 3 and box.latest.arrival == 13.0
    assert box.received == 2 and box.stale == 1 and box.bad == 0


def test_line_splitter_bounds_long_lines():
    sp = LineSplitter(limit=16)
    assert sp.feed(b"abc\nde") == [b"abc"]
    assert sp.feed(b"f\n") == [b"def"]
    out = sp.feed(b"x" * 40)          # no newline yet, over the limit: reported once, not buffered
    assert out == [None]
    assert sp.feed(b"y" * 40) == []
    assert sp.feed(b"zz\nok\n") == [b"ok"]
    assert sp.feed(b"y" * 20 + b"\n") == [None]


def test_timing_nan_roundtrip():
    t = framing.Timing(0, -1, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, math.nan, math.nan, 0)
    msg = framing.frame_message(t, framing.Packet(0, 0, 0, b"", b"").to_bytes())
    t2, _ = framing.parse_frame(msg[framing.MSG_HEADER_SIZE:])
    assert t2.gaze_seq == -1 and math.isnan(t2.gaze_arrival)


def test_ack_lines():
    assert framing.parse_upstream(framing.ack_line(17).strip(), (416, 240)) == framing.Ack(17)
    for bad in (b'{"ack": -1}', b'{"ack": "3"}', b'{"ack": 1.5}', b'{"ack": 3, "x": 1}', b'{"ack": true}'):
        with pytest.raises(ValueError):
            framing.parse_upstream(bad, (416, 240))
    with pytest.raises(ValueError):
        framing.parse_gaze(framing.ack_line(3).strip(), (416, 240))
    acks = []
    box = GazeInbox((416, 240), on_ack=lambda i, t, dec: acks.append((i, t)))
    box.feed(b'{"ack": 5}', 2.0)
    box.feed(b'{"ack": "x"}', 2.0)
    assert acks == [(5, 2.0)] and box.bad == 1 and box.latest is None
