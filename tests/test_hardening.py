"""Regression tests for the hardening issue (#24): inputs never clobbered, honest exit codes and frame
lists, bounds before allocation, one-line errors. Each test names the finding it pins down."""
import io
import json
import os
import struct
import time
import zlib

import numpy as np
import pytest

from rac_video.cli import main
from rac_video.container import (ContainerError, CorruptPacketError, FramePlan, Header, Packet,
                                 Reader, Writer)
from rac_video.container.format import MAX_SETTINGS_DEPTH, loads_settings

HASH = "ab" * 32


def header(**kw):
    args = dict(model="rand-a", weights_hash=HASH, width=41, height=30, fps_num=25, fps_den=1,
                settings={"seed": 0, "steps": 1})
    args.update(kw)
    return Header(**args)


def packets(n, start=0):
    return [Packet(i, i, 5, b"s%d" % i, b"payload-%d" % i * 3) for i in range(start, start + n)]


def encode(pk, *, index=True, hdr=None):
    buf = io.BytesIO()
    with Writer(buf, hdr or header(), index=index) as w:
        for p in pk:
            w.write(p)
    return buf.getvalue()


def plan(data, skip=True):
    r = Reader(io.BytesIO(data), skip_damaged=skip)
    p = FramePlan(r)
    got = [(i, pk is not None) for i, pk in p]
    return p, got


def with_crc(b: bytes) -> bytes:
    return b + struct.pack("<I", zlib.crc32(b))


# ------------------------------------------------------------------------------ stream identity / loss

def test_splice_of_two_streams_is_damage_never_another_streams_frames():
    a, b = encode(packets(3)), encode(packets(3, start=3))
    ha = len(header().to_bytes())
    spliced = a[:a.find(b"RVIX")] + b[ha:]           # A's header and packets 0..2, then B's 3..5 + trailer
    with pytest.raises(CorruptPacketError, match="another stream"):
        list(Reader(io.BytesIO(spliced)))
    p, got = plan(spliced)
    assert got == [(0, True), (1, True), (2, True)]  # B's frames are never delivered as A's
    assert p.damaged and p.end_lost and any("another stream" in e for e in p.errors)


def test_header_only_and_cut_after_first_packet_are_damaged():
    data = encode(packets(4))
    cut_at = data.find(b"RVPK", data.find(b"RVPK") + 1)
    for cut in (data[:len(header().to_bytes())], data[:cut_at]):
        p, got = plan(cut)
        assert p.damaged and p.end_lost
    # a complete file is not
    p, got = plan(data)
    assert not p.damaged and got == [(i, True) for i in range(4)]


def test_frames_lost_at_start_middle_and_end_keep_their_places():
    pk = packets(8)
    data = bytearray(encode(pk))
    sid = Header.from_bytes(bytes(data))[0].stream_id
    for i in (0, 4, 7):   # damage the payload of frames 0, 4 and 7 (their CRCs fail)
        off = data.find(Packet(**{**vars(pk[i]), "stream_id": sid}).to_bytes())
        data[off + 40] ^= 0xFF
    p, got = plan(bytes(data))
    assert [i for i, _ in got] == list(range(8))                 # length kept
    assert [i for i, ok in got if not ok] == [0, 4, 7]
    assert [e["frame"] for e in p.skipped] == [0, 4, 7] and p.damaged
    with pytest.raises(CorruptPacketError):
        plan(bytes(data), skip=False)


def test_gap_in_valid_indices_is_loss_and_huge_jump_is_bounded():
    gapped = encode(packets(2) + packets(2, start=5))
    p, got = plan(gapped)
    assert [i for i, ok in got if not ok] == [2, 3, 4] and p.damaged
    with pytest.raises(CorruptPacketError, match="missing"):
        plan(gapped, skip=False)
    # the file: indices 0..3, then 1,000,004 ... (and a gap of 2^32 - 16): no fill, bounded time
    for far in (1_000_004, (1 << 32) - 16):
        data = encode(packets(4) + [Packet(far, far, 5, b"", b"x")])
        t0 = time.perf_counter()
        p, got = plan(data)
        assert time.perf_counter() - t0 < 1.0
        assert got == [(i, True) for i in range(4)] and p.skipped == [{"frame": far, "reason": "index jump"}]
        with pytest.raises(CorruptPacketError, match="jumps"):
            plan(data, skip=False)


def test_old_1_0_files_still_read():
    h = header()
    hb = bytearray(h.to_bytes())
    blen = struct.unpack_from("<I", hb, 8)[0]
    body = hb[12:12 + blen - 4]                        # 1.0 body: without the stream id
    old = with_crc(b"RACV" + bytes([1, 0]) + struct.pack("<HI", 0, len(body)) + bytes(body))
    data = old + b"".join(p.to_bytes() for p in packets(3))   # 1.0 packets: no extension
    r = Reader(io.BytesIO(data))
    assert r.header == h and r.header.stream_id is None and list(r) == packets(3)


# ------------------------------------------------------------------------------ info tells the truth

def _info(tmp_path, data, capsys):
    f = tmp_path / "x.racv"
    f.write_bytes(data)
    code = main(["info", str(f), "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_info_reports_damaged_trailer_and_trailing_bytes(tmp_path, capsys):
    data = encode(packets(3))
    code, d = _info(tmp_path, data, capsys)
    assert code == 0 and not d["damaged"] and d["frames"] == 3 and d["stream_id"]
    code, d = _info(tmp_path, data + b"junk", capsys)                 # appended bytes
    assert code == 3 and d["damaged"] and d["errors"]
    bad = bytearray(data)
    bad[bad.find(b"RVIX") + 9] ^= 1                                    # an index entry
    code, d = _info(tmp_path, bytes(bad), capsys)
    assert code == 3 and d["damaged"] and d["errors"]
    code, d = _info(tmp_path, encode(packets(2) + packets(1, start=4)), capsys)  # a gap
    assert code == 3 and d["damaged_frames"] == [2, 3]
    noidx = encode(packets(3), index=False)
    code, d = _info(tmp_path, noidx + b"RVPK" + bytes(30), capsys)     # junk after a stream without index
    assert code == 3 and d["damaged"]


# ------------------------------------------------------------------------------ settings and header bounds

@pytest.mark.parametrize("raw, msg", [
    (b"[" * 100000 + b"]" * 100000, "nested too deeply|not a JSON object"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "deeper"),
    (b'{"seed": Infinity}', "Infinity"), (b'{"seed": NaN}', "NaN"), (b'{"seed": 1e400}', "out of range"),
    (b'{"seed": 1' + b"0" * 5000 + b"}", "decoded"), (b"\xff", "decoded"), (b"[]", "not a JSON object")])
def test_settings_json_is_bounded(raw, msg):
    with pytest.raises(ContainerError, match=msg):
        loads_settings(raw)


def _with_settings(settings_raw: bytes, **kw) -> bytes:
    """A header whose settings bytes are exactly settings_raw (CRC recomputed)."""
    h = header(**kw)
    b = bytearray(h.to_bytes())
    js = json.dumps(h.settings, sort_keys=True, separators=(",", ":")).encode()
    pos = b.find(js)
    b[pos - 4:pos + len(js)] = struct.pack("<I", len(settings_raw)) + settings_raw
    body = b[12:-4]
    return with_crc(bytes(b[:8]) + struct.pack("<I", len(body)) + bytes(body))


def test_header_frame_size_bounded():
    with pytest.raises(ContainerError, match="over the limit"):
        header(width=65535, height=65535).to_bytes()
    b = bytearray(header().to_bytes())
    b[12:20] = struct.pack("<II", 65535, 65535)
    with pytest.raises(ContainerError, match="over the limit"):
        Header.from_bytes(with_crc(bytes(b[:-4])))
    with pytest.raises(ContainerError, match="deeper"):
        header(settings={"a": [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]}).to_bytes()
    assert MAX_SETTINGS_DEPTH == 16


# ------------------------------------------------------------------------------ temp files

def test_existing_part_file_is_never_overwritten(tmp_path):
    out = tmp_path / "x.racv"
    part = tmp_path / "x.racv.part"
    part.write_bytes(b"someone else's file")
    with Writer(out, header()) as w:
        w.write(packets(1)[0])
    assert part.read_bytes() == b"someone else's file"
    assert sorted(os.listdir(tmp_path)) == ["x.racv", "x.racv.part"]
    with pytest.raises(RuntimeError):
        with Writer(out, header()) as w:
            raise RuntimeError
    assert sorted(os.listdir(tmp_path)) == ["x.racv", "x.racv.part"]


# ------------------------------------------------------------------------------ CLI (random model)



@pytest.fixture
def clip(tmp_path):
    from PIL import Image

    d = tmp_path / "clip"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return str(d)


COORD = "gaze 1280 720\ngeometry distance 0.45 width 0.4 height 0.225\n"


def _coord(path, rows):
    path.write_text(COORD + "".join(f"{t} {x} {y} {c}\n" for t, x, y, c in rows))
    return str(path)


@pytest.fixture
def racv(tmp_path, clip, weights_env, capsys):
    out = str(tmp_path / "c.racv")
    assert main(["encode", clip, "-o", out, "--model", "rand-a", "--steps", "0", "--no-progress"]) == 0
    capsys.readouterr()
    return out


def _frames(path):
    import av

    with av.open(path) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_outputs_never_clobber_inputs(tmp_path, clip, racv, capsys):
    src = tmp_path / "real.racv"
    src.write_bytes(open(racv, "rb").read())
    before = src.read_bytes()
    link = tmp_path / "link.mkv"
    os.link(src, link)
    for argv in (["decode", str(src), "-o", str(src)], ["decode", str(src), "-o", str(link), "--lossless"],
                 ["decode", str(src), "-o", str(tmp_path / "o.mkv"), "--report", str(src)]):
        assert main(argv) == 2
        assert "refusing to overwrite" in capsys.readouterr().err
    assert src.read_bytes() == before and link.read_bytes() == before
    trace = _coord(tmp_path / "t.coord", [(1000 + 4000 * k, 640, 360, 1) for k in range(100)])
    tb = open(trace).read()
    frame0 = os.path.join(clip, "0.png")
    f0 = open(frame0, "rb").read()
    for argv in (["encode", clip, "-o", trace, "--gaze", trace], ["encode", clip, "-o", frame0],
                 ["encode", str(src), "-o", str(src)], ["encode", clip, "-o", str(tmp_path / "y.racv"),
                                                        "--report", trace, "--gaze", trace]):
        assert main(argv + ["--model", "rand-a"]) == 2
        assert "refusing to overwrite" in capsys.readouterr().err
    assert open(trace).read() == tb and open(frame0, "rb").read() == f0 and src.read_bytes() == before


def test_decode_exit_codes_and_frame_list(tmp_path, racv, capsys):
    good = tmp_path / "good.mkv"
    assert main(["decode", racv, "-o", str(good), "--lossless", "--no-progress"]) == 0
    capsys.readouterr()
    ref = _frames(str(good))
    assert len(ref) == 4
    data = bytearray(open(racv, "rb").read())
    starts = [i for i in range(len(data)) if data[i:i + 4] == b"RVPK"]
    # damage frame 0 and frame 2: frame 0 becomes grey, frame 2 repeats frame 1; length 4 kept
    for i in (0, 2):
        data[starts[i] + 45] ^= 0xFF
    bad = tmp_path / "bad.racv"
    bad.write_bytes(bytes(data))
    out = tmp_path / "bad.mkv"
    assert main(["decode", str(bad), "-o", str(out), "--lossless", "--no-progress"]) == 2
    assert not out.exists() and not [n for n in os.listdir(tmp_path) if n.endswith(".part")]
    capsys.readouterr()
    assert main(["decode", str(bad), "-o", str(out), "--lossless", "--skip-damaged", "--no-progress"]) == 3
    err = capsys.readouterr().err
    lost = json.loads(err[err.index("{"):])
    assert [(e["frame"], e["replaced_with"]) for e in lost["skipped"]] == [(0, "grey"), (2, "previous")]
    got = _frames(str(out))
    assert len(got) == 4 and (got[0] == 128).all()
    assert np.array_equal(got[1], ref[1]) and np.array_equal(got[2], ref[1]) and np.array_equal(got[3], ref[3])
    # cut after the first packet / header only: exit 3 (not 0), the cut is reported
    for cut in (bytes(open(racv, "rb").read()[:starts[1]]), bytes(open(racv, "rb").read()[:starts[0]])):
        bad.write_bytes(cut)
        assert main(["decode", str(bad), "-o", str(out), "--skip-damaged", "--no-progress"]) == 3
        err = capsys.readouterr().err
        assert json.loads(err[err.index("{"):])["end_lost"] is True


def test_bad_stream_headers_are_one_line_errors(tmp_path, racv, capsys):
    h, used = Header.from_bytes(open(racv, "rb").read())
    rest = open(racv, "rb").read()[used:]
    cases = [dict(settings={**h.settings, "seed": None}), dict(settings={**h.settings, "seed": [1]}),
             dict(settings={**h.settings, "seed": {"a": 1}}), dict(settings={**h.settings, "seed": 2**40}),
             dict(settings={**h.settings, "steps": 100000}), dict(fps_num=4294967295, fps_den=1),
             dict(model="m" * 255)]
    for kw in cases:
        hb = Header(**{**vars(h), **kw}).to_bytes()
        f = tmp_path / "h.racv"
        f.write_bytes(hb + rest)
        out = tmp_path / "o.mkv"
        assert main(["decode", str(f), "-o", str(out), "--lossless", "--skip-damaged", "--no-progress"]) == 2, kw
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and "site-packages" not in err, err
        assert not [n for n in os.listdir(tmp_path) if n.endswith(".part")]
    # Infinity in the settings
    raw = _with_settings(b'{"seed":Infinity,"steps":0}', model=h.model, weights_hash=h.weights_hash,
                         width=h.width, height=h.height)
    (tmp_path / "inf.racv").write_bytes(raw)
    assert main(["decode", str(tmp_path / "inf.racv"), "-o", str(tmp_path / "o.mp4")]) == 2
    assert main(["info", str(tmp_path / "inf.racv")]) == 2
    capsys.readouterr()


def test_side_info_with_too_many_levels_is_a_skipped_frame(tmp_path, racv, capsys):
    from rac_video.importance import sideinfo

    data = open(racv, "rb").read()
    h, used = Header.from_bytes(data)
    pk = list(Reader(racv))
    lv = np.full((6, 8), 16, np.uint8)
    try:
        side = sideinfo.RasterLevels(lv, 17).to_bytes()
    except ValueError:
        pytest.skip("side info cannot even encode 17 levels")
    f = tmp_path / "s.racv"
    with Writer(f, h) as w:
        for p in pk:
            w.write(Packet(**{**vars(p), "side_info": side if p.index == 1 else p.side_info}))
    assert main(["decode", str(f), "-o", str(tmp_path / "s.mp4"), "--skip-damaged", "--no-progress"]) == 3
    err = capsys.readouterr().err
    assert json.loads(err[err.index("{"):])["skipped"][0]["frame"] == 1


@pytest.mark.parametrize("extra, msg", [
    (["--steps", "100000"], "steps"), (["--device", "bogus"], "device"), (["--fps", "inf"], "fps"),
    (["--fps", "nan"], "fps"), (["-b", "inf"], "bitrate"), (["--frames", "0"], "frames"),
    (["--display", "0.4,1280,720,0.45"], "--gaze"), (["--model", "m" * 255], "model name"),
    (["--seed", "-1"], "seed"), (["--predict-ms", "40"], "--gaze")])
def test_inconsistent_or_bad_encode_options(tmp_path, clip, weights_env, capsys, extra, msg):
    out = tmp_path / "x.racv"
    argv = ["encode", clip, "-o", str(out)] + (["--model", "rand-a"] if "--model" not in extra else []) + extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1
    assert os.listdir(tmp_path) == ["clip"]


def test_decode_option_bounds(tmp_path, racv, capsys):
    import torch

    out = str(tmp_path / "o.mp4")
    assert main(["decode", racv, "-o", out, "--steps", "100000"]) == 2
    assert main(["decode", racv, "-o", out, "--device", "bogus"]) == 2
    if not torch.cuda.is_available():
        assert main(["decode", racv, "-o", out, "--device", "cuda"]) == 2
        assert "no CUDA device" in capsys.readouterr().err


# ------------------------------------------------------------------------------ gaze bounds and policy

def test_gaze_trace_with_huge_timestamps_is_bounded(tmp_path):
    import resource

    from rac_video.importance import source

    p = _coord(tmp_path / "big.coord", [(i * 10**15, 640, 360, 1) for i in range(40)])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    src = source.open_source(f"gaze:{p}", (24, 32), 25)
    fr = [src.step() for _ in range(5)]
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: no per-timestamp array
    assert np.isfinite(fr[0].points).all()


def test_non_finite_and_off_screen_gaze_is_tracker_loss(tmp_path, clip, weights_env, capsys):
    from rac_video.importance import gaze, source

    nan = _coord(tmp_path / "nan.coord", [(1000 + 4000 * k, "nan", "inf", 1) for k in range(50)])
    off = _coord(tmp_path / "off.coord", [(1000 + 4000 * k, 5000, -300, 1) for k in range(50)])
    for p in (nan, off):
        with pytest.raises(gaze.GazeError, match="no usable gaze"):
            source.open_source(f"gaze:{p}", (24, 32), 25)
        assert main(["encode", clip, "-o", str(tmp_path / "x.racv"), "--gaze", p, "--model", "rand-a"]) == 2
        assert "no usable gaze" in capsys.readouterr().err
    # gaze for the first 0.04 s only: frames after hold_s (0.25 s at 25 fps: 6 frames) count as loss
    short = _coord(tmp_path / "short.coord", [(1000 + 4000 * k, 640, 360, 1) for k in range(10)])
    src = source.open_source(f"gaze:{short}", (24, 32), 25)
    for _ in range(12):
        src.step()
    assert src.lost_frames == 12 - 1 - 6
    assert main(["encode", clip, "-o", str(tmp_path / "g.racv"), "--gaze", short, "--model", "rand-a", "--json",
                 "--fps", "5"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out)["gaze_lost_frames"] == 2 and "tracker loss in 2 of 4" in cap.err


def test_trailer_of_another_stream_is_damage():
    # A's header followed by the (empty) index trailer of another stream B whose header has the same length
    # read (format 1.1 of this branch) as a complete, empty stream. 2.0 seeds the trailer's CRC with the
    # stream id.
    a, b = encode(packets(2)), encode([])
    ha = len(header().to_bytes())
    spliced = a[:ha] + b[ha:]
    with pytest.raises(ContainerError, match="another stream"):
        list(Reader(io.BytesIO(spliced)))
    p, got = plan(spliced)
    assert got == [] and p.damaged
    c = encode(packets(2))
    assert a[:ha] != c[:ha]                     # two encodes of the same frames: different ids
    assert plan(a[:ha] + c[ha:])[0].damaged     # ... so their packets and trailer never pass as A's


def test_index_trailer_count_never_sizes_a_read():
    """Fuzzer finding (seed 102, case 12164, 239 bytes): an index trailer whose entry count field says
    2^26 made the reader ask the file for ~1.3 GB in one read (MemoryError under a 2 GB address-space
    limit). Reads are now capped, so the cost follows the file's real size."""
    from rac_video.container.format import INDEX_MAGIC, MAX_INDEX_ENTRIES
    from rac_video.container.reader import _MAX_READ

    data = bytearray(encode(packets(2)))
    at = bytes(data).rfind(INDEX_MAGIC)
    data[at + 4:at + 8] = struct.pack("<I", MAX_INDEX_ENTRIES)

    class Recording(io.BytesIO):
        asked = 0

        def read1(self, n=-1):
            Recording.asked = max(Recording.asked, n)
            return super().read1(n)

    p = FramePlan(Reader(Recording(bytes(data)), skip_damaged=True))
    assert [i for i, pk in p if pk is not None] == [0, 1] and p.damaged
    assert 0 < Recording.asked <= _MAX_READ
