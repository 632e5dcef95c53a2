"""Video pipeline end to end on a generated clip with a random model: encode → .racv → decode → mp4."""
import os

import numpy as np
import pytest

from rac_video import pipeline
from rac_video.container import CorruptPacketError, Reader
from rac_video.io import open_video


def _clip(folder, n=5, h=36, w=50):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        f = np.stack([(xx * 4 + i * 3) % 256, (yy * 6) % 256, ((xx + yy) * 2 + i) % 256], -1)
        f = np.clip(f + np.random.default_rng(i).integers(-40, 41, f.shape), 0, 255).astype(np.uint8)
        Image.fromarray(f).save(os.path.join(folder, f"f{i:03d}.png"))
    return str(folder)


def _opts(**kw):
    kw.setdefault("model", "rand-a")
    kw.setdefault("steps", 1)
    kw.setdefault("fps", 10)
    return pipeline.EncodeOptions(**kw)


def test_encode_decode_round_trip(tmp_path, random_codec):
    src = _clip(tmp_path / "clip")
    out = tmp_path / "a.racv"
    rep = pipeline.encode_video(src, out, _opts(quality=6), codec=random_codec, progress=False)
    assert rep["frames"] == 5 and rep["file_bytes"] == os.path.getsize(out)
    assert rep["total_bytes"] + rep["container_overhead_bytes"] == rep["file_bytes"]
    with Reader(out) as r:
        pk = list(r)
        assert r.header.model == "rand-a" and r.header.settings["steps"] == 1
    assert [p.index for p in pk] == list(range(5)) and all(p.quality == 6 for p in pk)
    # the frame decoder reproduces Codec.decode_frame exactly
    dec = pipeline.FrameDecoder(random_codec, r.header)
    frames = [dec.decode(p) for p in pk]
    drep = pipeline.decode_video(out, tmp_path / "a.mkv", lossless=True, codec=random_codec, progress=False,
                                 keep_frames=True)
    assert drep["frames"] == 5 and not drep["damaged_frames"]
    assert all(np.array_equal(a, b) for a, b in zip(frames, drep["_frames"]))
    with open_video(str(tmp_path / "a.mkv")) as v:
        back = [f for _, _, f in v]
    assert len(back) == 5 and back[0].shape == (36, 50, 3)
    assert np.array_equal(back[2], frames[2])          # FFV1 is lossless


def test_rdoq_strength_reaches_every_frame_and_the_header(tmp_path, random_codec):
    src = _clip(tmp_path / "clip", n=3)
    sizes = {}
    for alpha in (0.0, 0.1):
        out = tmp_path / f"r{alpha}.racv"
        for mode in ({"quality": 6}, {"quality": None, "bitrate_kbps": 20.0}):
            rep = pipeline.encode_video(src, out, _opts(rdoq=alpha, **mode), codec=random_codec, progress=False)
            with Reader(out) as r:
                assert r.header.settings["rdoq"] == alpha
                payloads = [p.payload for p in r]
            if mode["quality"] is not None:
                sizes[alpha] = rep["total_bytes"], payloads
                lv = np.full(random_codec.latent_hw(36, 50), random_codec.levels - 1, np.uint8)
                with open_video(src) as v:
                    first = next(iter(v))[2]
                assert payloads[0] == random_codec.encode_frame(first, lv, 6, dither_frame=pipeline.DITHER_FRAME,
                                                                steps=1, rdoq=alpha)
    assert sizes[0.1][0] <= sizes[0.0][0] and sizes[0.1][1] != sizes[0.0][1]     # other levels, no more bits


def test_static_content_quantizes_identically(tmp_path, random_codec):
    """Same frame twice → identical payloads: the dither does not change from frame to frame."""
    from PIL import Image

    d = tmp_path / "static"
    d.mkdir()
    f = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    for i in range(3):
        Image.fromarray(f).save(d / f"{i}.png")
    pipeline.encode_video(str(d), tmp_path / "s.racv", _opts(quality=4), codec=random_codec, progress=False)
    with Reader(tmp_path / "s.racv") as r:
        pk = list(r)
    assert pk[0].payload == pk[1].payload == pk[2].payload


def test_importance_sources_and_side_info(tmp_path, random_codec):
    src = _clip(tmp_path / "clip", n=3, h=48, w=64)
    rep = pipeline.encode_video(src, tmp_path / "b.racv", _opts(quality=6, importance="boxes:0,0,32,48"),
                                codec=random_codec, progress=False)
    uni = pipeline.encode_video(src, tmp_path / "u.racv", _opts(quality=6), codec=random_codec, progress=False)
    assert rep["total_side_info_bytes"] > 0
    assert rep["total_payload_bytes"] < uni["total_payload_bytes"]   # the background is coarser
    assert 0 < rep["per_frame"][0]["mean_level"] < uni["per_frame"][0]["mean_level"]


def test_bitrate_mode_reports_actual_vs_target(tmp_path, random_codec):
    src = _clip(tmp_path / "clip", n=8, h=48, w=64)
    probe = pipeline.encode_video(src, tmp_path / "p.racv", _opts(quality=7), codec=random_codec, progress=False)
    target = probe["kbps"]
    rep = pipeline.encode_video(src, tmp_path / "r.racv", _opts(quality=None, bitrate_kbps=target),
                                codec=random_codec, progress=False)
    assert rep["target_kbps"] == target and abs(rep["rate_error"]) < 0.25
    assert rep["settings"]["rate_control"]["mode"] == "bitrate"
    assert all(s["estimated_bits"] is not None for s in rep["per_frame"])


def test_damaged_file(tmp_path, random_codec):
    src = _clip(tmp_path / "clip", n=4)
    out = tmp_path / "d.racv"
    pipeline.encode_video(src, out, _opts(quality=6), codec=random_codec, progress=False)
    with Reader(out) as r:
        pk = list(r)
    data = bytearray(out.read_bytes())
    pos = data.find(pk[2].payload) + len(pk[2].payload) // 2    # inside frame 2's payload
    assert data.find(pk[2].payload) > data.find(pk[1].payload) > 0
    data[pos] ^= 0x40
    bad = tmp_path / "bad.racv"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptPacketError) as ei:
        pipeline.decode_video(bad, tmp_path / "x.mkv", lossless=True, codec=random_codec, progress=False)
    assert ei.value.frame == 2
    assert not (tmp_path / "x.mkv").exists()            # nothing half-written left behind
    rep = pipeline.decode_video(bad, tmp_path / "y.mkv", lossless=True, codec=random_codec, progress=False,
                                skip_damaged=True)
    assert rep["damaged_frames"] == [2] and rep["frames"] == 4   # the damaged frame repeats the previous one


def test_user_errors(tmp_path, random_codec):
    with pytest.raises(ValueError):
        pipeline.encode_video(tmp_path / "missing.mp4", tmp_path / "o.racv", _opts(), codec=random_codec,
                              progress=False)
    with pytest.raises(ValueError, match="quality"):
        pipeline.EncodeOptions(quality=99).check()
    with pytest.raises(ValueError, match="bitrate"):
        pipeline.EncodeOptions(quality=None, bitrate_kbps=-1).check()
    with pytest.raises(ValueError, match="RDOQ alpha"):
        pipeline.EncodeOptions(rdoq=-0.5).check()
    src = _clip(tmp_path / "clip", n=2)
    with pytest.raises(ValueError):
        pipeline.encode_video(src, tmp_path / "o.racv", _opts(importance="gaze:/nonexistent.csv"),
                              codec=random_codec, progress=False)
    assert not (tmp_path / "o.racv").exists()
