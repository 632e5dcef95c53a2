"""The .racv container: round trips, streams, index, damage, versions, atomic writes, fuzzing."""
import io
import os
import struct
import threading
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rac_video.container import (HEADER_HAS_INDEX, MAGIC, SYNC, ContainerError, CorruptPacketError,
                                 EndOfPackets, Header, Packet, Reader, Writer, packet_size, read_packet,
                                 unpack_packet)

HASH = "0123456789abcdef" * 4


def header(**kw):
    args = dict(model="rac-tiny-v1", weights_hash=HASH, width=417, height=239, fps_num=30000, fps_den=1001,
                settings={"quality": 7, "steps": 4, "levels": 16, "seed": 3, "importance": "gaze"})
    args.update(kw)
    return Header(**args)


def packets(n, start=0, size=50):
    return [Packet(i, 2 * i + 1, i % 16, bytes([i % 256]) * (i % 5), bytes((i * 7 + k) % 256 for k in range(size + i)),
                   flags=i % 3) for i in range(start, start + n)]


def encode(pk, *, index=True, hdr=None):
    buf = io.BytesIO()
    with Writer(buf, hdr or header(), index=index) as w:
        for p in pk:
            w.write(p)
    return buf.getvalue()


def wire(p, data):
    """The bytes of packet ``p`` as the Writer put it into ``data`` (format 2.0: with the stream's id)."""
    return Packet(**{**vars(p), "stream_id": Header.from_bytes(data)[0].stream_id}).to_bytes()


class Pipe(io.RawIOBase):
    """A non-seekable stream handing out at most `step` bytes per read, like a pipe or socket."""

    def __init__(self, data, step=7):
        self._d, self._step = io.BytesIO(data), step

    def readable(self):
        return True

    def readinto(self, b):
        x = self._d.read(min(len(b), self._step))
        b[:len(x)] = x
        return len(x)


def test_header_round_trip_and_fields():
    h = header(color="yuv420p", settings={"nested": {"a": [1, 2.5, None]}, "mode": "bitrate"})
    b = h.to_bytes()
    assert b[:4] == MAGIC
    h2, used = Header.from_bytes(b + b"extra")
    assert used == len(b) and h2 == h
    assert h2.fps == pytest.approx(29.97, abs=1e-3) and h2.pts_seconds(30) == pytest.approx(30 * 1001 / 30000)
    assert Header.unpack(b[:-1]) is None and Header.unpack(b[:3]) is None
    with pytest.raises(ContainerError, match="truncated"):
        Header.from_bytes(b[:20])


@pytest.mark.parametrize("kw, msg", [
    (dict(weights_hash="xyz"), "64 hex"), (dict(width=0), "width"), (dict(fps_den=-1), "fps_den"),
    (dict(model=""), "empty"), (dict(settings={"x": object()}), "JSON"), (dict(settings={"x": float("nan")}), "JSON"),
    (dict(height=1.5), "height"), (dict(model="m" * 300), "longer")])
def test_header_rejects_bad_values(kw, msg):
    with pytest.raises(ContainerError, match=msg):
        header(**kw).to_bytes()


@pytest.mark.parametrize("index", [True, False])
def test_round_trip_file(tmp_path, index):
    pk = packets(12)
    path = tmp_path / "a.racv"
    with Writer(path, header(), index=index) as w:
        for p in pk:
            w.write(p)
    assert not os.path.exists(str(path) + ".part")
    with Reader(path) as r:
        assert r.header == header(flags=HEADER_HAS_INDEX if index else 0)
        assert list(r) == pk
        assert r.has_index is index
        assert len(r) == 12 and r[3] == pk[3] and r[-1] == pk[-1]
        with pytest.raises(IndexError):
            r[12]
        r.seek(5)
        assert [p.index for p in r] == list(range(5, 12))
        r.seek(100)
        assert list(r) == []


def test_frame_indices_need_not_start_at_zero_and_seek_rounds_up():
    pk = [Packet(i, i, 1, b"", b"x" * i) for i in (10, 11, 15, 20)]
    r = Reader(io.BytesIO(encode(pk)))
    assert r.frames() == [10, 11, 15, 20] and r[2].index == 15
    r.seek(12)
    assert [p.index for p in r] == [15, 20]


def test_stream_read_from_non_seekable_pipe():
    pk = packets(9)
    for index in (True, False):
        data = encode(pk, index=index)
        r = Reader(io.BufferedReader(Pipe(data), buffer_size=5))
        assert not r.seekable
        assert list(r) == pk and r.damaged == []
        with pytest.raises(ContainerError, match="seekable"):
            len(r)


def test_live_pipe_yields_packets_as_they_arrive():
    pk = packets(3)
    data = encode(pk, index=False)
    first = len(header().to_bytes()) + len(Packet(**{**vars(pk[0]), "stream_id": 1}).to_bytes())  # 2.0: with an id
    rfd, wfd = os.pipe()
    got_first, early = threading.Event(), []

    def produce():
        with os.fdopen(wfd, "wb") as w:
            w.write(data[:first])
            w.flush()
            early.append(got_first.wait(10))  # the reader must not wait for more bytes than sent
            w.write(data[first:])

    t = threading.Thread(target=produce)
    t.start()
    with os.fdopen(rfd, "rb") as f:
        out = []
        for p in Reader(f):
            out.append(p)
            got_first.set()
    t.join()
    assert out == pk and early == [True]


def test_read_packet_on_raw_file_object():
    pk = packets(4)
    data = encode(pk)
    f = io.BytesIO(data)
    _, used = Header.from_bytes(data)
    f.seek(used)
    got = []
    while (p := read_packet(f)) is not None:
        got.append(p)
    assert got == pk
    f = io.BytesIO(pk[0].to_bytes()[:-3])
    with pytest.raises(CorruptPacketError) as e:
        read_packet(f)
    assert e.value.frame == 0 and "truncated" in str(e.value)


def test_unpack_packet_incremental_on_socket_buffer():
    pk = packets(3)
    wire = b"".join(p.to_bytes() for p in pk)
    buf, got = bytearray(), []
    for i in range(len(wire)):  # one byte arrives at a time
        buf += wire[i:i + 1]
        while (res := unpack_packet(buf)) is not None:
            got.append(res[0])
            del buf[:res[1]]
    assert got == pk and not buf
    assert packet_size(wire[:10]) is None and packet_size(wire) == len(pk[0].to_bytes())
    assert unpack_packet(wire, len(pk[0].to_bytes()))[0] == pk[1]
    with pytest.raises(EndOfPackets):
        unpack_packet(b"RVIX" + bytes(20))
    with pytest.raises(CorruptPacketError, match="sync"):
        unpack_packet(b"XX")
    buf = bytearray(wire)
    buf[30] ^= 1
    try:
        unpack_packet(buf)
    except CorruptPacketError as e:  # the receive buffer can be trimmed while handling the error
        assert e.frame == 0
        del buf[:e.length]
    assert unpack_packet(buf)[0] == pk[1]


def test_packet_layout_is_as_documented():
    p = Packet(5, -3, 9, b"si", b"pay", flags=0x8001)
    b = p.to_bytes()
    sync, blen, idx, hcrc = struct.unpack_from("<4sIII", b)
    assert (sync, idx, hcrc) == (SYNC, 5, zlib.crc32(b[:12]))
    assert len(b) == 16 + blen + 4 and blen == 18 + 2 + 3
    assert struct.unpack_from("<qHHIH", b, 16) == (-3, 9, 0x8001, 2, 0)
    assert b[34:36] == b"si" and b[36:39] == b"pay"
    assert struct.unpack_from("<I", b, len(b) - 4)[0] == zlib.crc32(b[:-4])


@pytest.mark.parametrize("bad", [dict(index=-1), dict(quality=70000), dict(pts=1 << 63), dict(flags=-1)])
def test_packet_rejects_bad_values(bad):
    args = dict(index=0, pts=0, quality=0, side_info=b"", payload=b"")
    args.update(bad)
    with pytest.raises(ContainerError):
        Packet(**args).to_bytes()


def test_writer_enforces_increasing_indices_and_closed_state():
    w = Writer(io.BytesIO(), header())
    w.write(Packet(3, 0, 0, b"", b""))
    with pytest.raises(ContainerError, match="increase"):
        w.write(Packet(3, 1, 0, b"", b""))
    w.close()
    with pytest.raises(ContainerError, match="closed"):
        w.write(Packet(4, 1, 0, b"", b""))


def test_damaged_packet_named_and_skipped():
    pk = packets(8)
    data = bytearray(encode(pk))
    off = data.find(pk[4].payload)
    data[off + 3] ^= 0x10
    with pytest.raises(CorruptPacketError) as e:
        list(Reader(io.BytesIO(bytes(data))))
    assert e.value.frame == 4 and "frame 4" in str(e.value)
    r = Reader(io.BytesIO(bytes(data)), skip_damaged=True)
    assert [p.index for p in r] == [0, 1, 2, 3, 5, 6, 7] and r.damaged == [4]
    # random access through the intact index still reaches the good frames
    assert r[5] == pk[5]
    with pytest.raises(CorruptPacketError):
        r[4]


def test_resync_after_damaged_packet_headers_and_garbage():
    pk = packets(10)
    data = bytearray(encode(pk, index=False))
    starts = [data.find(wire(p, data)) for p in pk]
    data[starts[2] + 5] ^= 0xFF                       # length field of frame 2: its header CRC fails
    data[starts[6]:starts[6] + 40] = os.urandom(40)   # frame 6 overwritten from its start
    data[starts[7]:starts[7]] = b"\x00garbage RVP"     # junk inserted before frame 7
    r = Reader(io.BufferedReader(Pipe(bytes(data), step=13)), skip_damaged=True)
    assert [p.index for p in r] == [0, 1, 3, 4, 5, 7, 8, 9]
    assert r.damaged == [2, 6] and len(r.errors) >= 2
    with pytest.raises(CorruptPacketError) as e:
        list(Reader(io.BytesIO(bytes(data))))
    assert e.value.frame == 2


def test_truncation_detected_with_index_promise(tmp_path):
    pk = packets(5)
    data = encode(pk)
    cut = data[:data.find(b"RVIX")]  # cut exactly at a packet boundary, trailer gone
    with pytest.raises(ContainerError, match="truncated"):
        list(Reader(io.BytesIO(cut)))
    r = Reader(io.BytesIO(cut), skip_damaged=True)
    assert list(r) == pk and r.truncated
    # without the promise, a stream that stops at a packet boundary is complete
    assert list(Reader(io.BytesIO(encode(pk, index=False)))) == pk
    cut2 = data[:data.find(wire(pk[3], data)) + 30]
    with pytest.raises(CorruptPacketError) as e:
        list(Reader(io.BytesIO(cut2)))
    assert e.value.frame == 3 and "truncated" in str(e.value)


def test_damaged_index_falls_back_to_scan():
    pk = packets(6)
    data = bytearray(encode(pk))
    data[data.find(b"RVIX") + 10] ^= 1  # an entry of the index: its CRC fails
    r = Reader(io.BytesIO(bytes(data)), skip_damaged=True)
    assert not r.has_index and r.index_error
    assert len(r) == 6 and r[4] == pk[4]
    with pytest.raises(ContainerError, match="index"):
        list(Reader(io.BytesIO(bytes(data))))


def test_version_handling():
    b = bytearray(header().to_bytes())
    newer_minor = bytearray(b)
    body_len = struct.unpack_from("<I", b, 8)[0]
    ext = b"future fields"
    newer_minor[5] = 7
    newer_minor[8:12] = struct.pack("<I", body_len + len(ext))
    newer_minor = newer_minor[:12 + body_len] + ext
    newer_minor += struct.pack("<I", zlib.crc32(newer_minor))
    h, used = Header.from_bytes(bytes(newer_minor))
    assert h == header() and used == len(newer_minor)
    # a packet of a newer minor with an extension area is read, the extension skipped
    fixed_fields = struct.pack("<qHHIH", 4, 2, 0, 1, 3)
    body = fixed_fields + b"EXT" + b"S" + b"PAY"
    fixed = struct.pack("<4sII", SYNC, len(body), 9)
    pkt = fixed + struct.pack("<I", zlib.crc32(fixed)) + body
    pkt += struct.pack("<I", zlib.crc32(pkt))
    assert unpack_packet(pkt)[0] == Packet(9, 4, 2, b"S", b"PAY")
    newer_major = bytearray(b)
    newer_major[4] = 3
    newer_major[-4:] = struct.pack("<I", zlib.crc32(bytes(newer_major[:-4])))
    with pytest.raises(ContainerError, match=r"version 3\.\d is not supported.*upgrade"):
        Reader(io.BytesIO(bytes(newer_major)))


def test_not_a_racv_file_and_missing(tmp_path):
    with pytest.raises(ContainerError, match="not a .racv"):
        Reader(io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + bytes(100)))
    with pytest.raises(ContainerError, match="empty"):
        Reader(io.BytesIO(b""))
    with pytest.raises(ContainerError, match="cannot open"):
        Reader(tmp_path / "missing.racv")


def test_atomic_write(tmp_path):
    path = tmp_path / "out.racv"
    with pytest.raises(RuntimeError):
        with Writer(path, header()) as w:
            w.write(packets(1)[0])
            parts = [n for n in os.listdir(tmp_path) if n.startswith("out.racv.") and n.endswith(".part")]
            assert len(parts) == 1 and not path.exists()
            raise RuntimeError("encoder failed")
    assert os.listdir(tmp_path) == []
    path.write_bytes(b"old")  # an existing file is replaced only once the new one is complete
    w = Writer(path, header())
    w.write(packets(1)[0])
    assert path.read_bytes() == b"old"
    w.close()
    assert list(Reader(path)) == packets(1)
    with pytest.raises(ContainerError, match="cannot write"):
        Writer(tmp_path / "no" / "such" / "dir.racv", header())
    with pytest.raises(ContainerError, match="directory"):
        Writer(tmp_path, header())


def test_bounded_allocation_on_huge_length():
    fixed = struct.pack("<4sII", SYNC, (1 << 28) + 1, 0)
    bogus = header().to_bytes() + fixed + struct.pack("<I", zlib.crc32(fixed)) + bytes(100)
    with pytest.raises(CorruptPacketError, match="length"):
        list(Reader(io.BytesIO(bogus)))
    small = header().to_bytes() + packets(1, size=5000)[0].to_bytes()
    with pytest.raises(CorruptPacketError, match="length"):
        list(Reader(io.BytesIO(small), max_packet=1000))


SMALL = encode(packets(3, size=6))


def _read_all(data, skip, pipe=False):
    r = Reader(io.BufferedReader(Pipe(data, 5)) if pipe else io.BytesIO(data), skip_damaged=skip)
    out = list(r)
    if r.seekable:
        for i in range(len(r)):
            try:
                r[i]
            except CorruptPacketError:
                pass
    return out


@pytest.mark.parametrize("skip", [False, True])
def test_truncation_at_every_position(skip):
    for n in range(len(SMALL)):
        try:
            got = _read_all(SMALL[:n], skip)
        except ContainerError:
            continue
        assert skip and all(p in packets(3, size=6) for p in got)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_bit_flips_and_splices(data):
    buf = bytearray(SMALL)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        buf[pos] ^= 1 << data.draw(st.integers(0, 7))
    if data.draw(st.booleans()):
        a = data.draw(st.integers(0, len(buf)))
        buf[a:a] = data.draw(st.binary(max_size=40))
    for skip, pipe in ((False, False), (True, False), (True, True)):
        try:
            got = _read_all(bytes(buf), skip, pipe)
        except ContainerError:
            continue
        # whatever is returned passed its CRC, so it is one of the packets written
        assert all(p in packets(3, size=6) for p in got)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_fuzz_random_bytes(blob, with_header):
    data = (header().to_bytes() + blob) if with_header else blob
    for skip, pipe in ((False, False), (True, False), (True, True)):
        try:
            _read_all(data, skip, pipe)
        except ContainerError:
            pass
    try:
        unpack_packet(blob)
    except ContainerError:
        pass
