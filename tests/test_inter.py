"""P-frames (rac_video.codec.inter): exact integer decoding, rate against intra, robustness, container, pipeline."""
import os

import numpy as np
import pytest
import torch

from rac_video import pipeline
from rac_video.codec import inter, weights
from rac_video.codec.model import Codec, PayloadError
from rac_video.container import ContainerError, CorruptPacketError, Packet, Reader, unpack_packet

pytestmark = pytest.mark.skipif(weights.DEFAULT_MODEL not in weights.available(), reason="shipped weights absent")


@pytest.fixture(scope="module")
def codec():
    """The default model with the untrained temporal table attached (the shipped P model is tested below)."""
    c = Codec(weights.DEFAULT_MODEL)
    c.temporal = inter.TemporalPrior(inter.TemporalPrior.initial_state())
    return c


def _clip(n=4, h=72, w=104, pan=3, seed=0):
    """A textured scene panned by ``pan`` pixels per frame, with a little noise (a static camera for pan=0)."""
    rng = np.random.default_rng(seed)
    big = rng.integers(0, 256, (h // 8 + 8, (w + n * pan) // 8 + 8, 3)).astype(np.float32)
    big = np.kron(big, np.ones((8, 8, 1), np.float32))
    yy, xx = np.mgrid[0:big.shape[0], 0:big.shape[1]]
    big = 0.6 * big + 0.4 * (128 + 100 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None])
    out = []
    for i in range(n):
        f = big[4:4 + h, 4 + i * pan:4 + i * pan + w] + rng.normal(0, 1.0, (h, w, 3))
        out.append(np.clip(f, 0, 255).astype(np.uint8))
    return out


def _levels(c, frame, value=12):
    return np.full(c.latent_hw(*frame.shape[:2]), value, np.uint8)


def _intra(c, frame, lv, q):
    H, W = frame.shape[:2]
    p = c.encode_frame(frame, lv, q)
    k, _, _, _ = c.decode_levels(p, lv, q, height=H, width=W)
    return p, inter.intra_reference(c, p, k, lv, q, height=H, width=W, index=0)


@pytest.mark.parametrize("pan", [0, 5])
def test_p_frames_decode_exactly_and_cost_less_than_intra(codec, pan):
    frames = _clip(pan=pan)
    H, W = frames[0].shape[:2]
    lv, q = _levels(codec, frames[0]), 10
    _, ref = _intra(codec, frames[0], lv, q)
    dref = ref
    p_bytes, i_bytes = 0, 0
    for t, f in enumerate(frames[1:], 1):
        st = {}
        payload, ref = inter.encode_p(codec, f, lv, q, ref, index=t, stats=st)
        assert inter.payload_is_p(payload) and not inter.payload_is_p(codec.encode_frame(f, lv, q))
        k, prm, K, dref = inter.decode_p(codec, payload, lv, q, dref, height=H, width=W, index=t)
        assert torch.equal(k, ref.k) and torch.equal(dref.z, ref.z) and torch.equal(dref.level, ref.level)
        rec = codec.reconstruct(k, prm, lv, q, height=H, width=W, steps=K)
        assert rec.shape == f.shape and rec.dtype == np.uint8
        p_bytes += len(payload)
        i_bytes += len(codec.encode_frame(f, lv, q))
        assert st["temporal_blocks"] > 0
    assert p_bytes < 0.9 * i_bytes, (p_bytes, i_bytes)


def test_p_frame_symbols_do_not_depend_on_the_float_arithmetic(codec):
    """Everything that decides a P-frame's symbols is integer: oneDNN off and one thread decode the same."""
    frames = _clip(n=3, pan=2)
    H, W = frames[0].shape[:2]
    lv, q = _levels(codec, frames[0], 9), 8
    _, ref = _intra(codec, frames[0], lv, q)
    r0 = ref
    payloads = []
    for f in frames[1:]:
        p, ref = inter.encode_p(codec, f, lv, q, ref)
        payloads.append(p)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.backends.mkldnn.flags(enabled=False):
            dref = r0
            for p in payloads:
                k, _, _, dref = inter.decode_p(codec, p, lv, q, dref, height=H, width=W)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(k, ref.k)


def test_levels_and_quality_may_change_between_frames(codec):
    frames = _clip(n=3, pan=1)
    H, W = frames[0].shape[:2]
    _, ref = _intra(codec, frames[0], _levels(codec, frames[0], 4), 7)
    dref = ref
    lv = _levels(codec, frames[0], 4)
    lv[: lv.shape[0] // 2] = 15
    for q in (8, 6):
        p, ref = inter.encode_p(codec, frames[1], lv, q, ref)
        k, _, _, dref = inter.decode_p(codec, p, lv, q, dref, height=H, width=W)
        assert torch.equal(k, ref.k)


def test_malformed_p_payloads_fail_cleanly(codec):
    frames = _clip(n=2, pan=2)
    H, W = frames[0].shape[:2]
    lv, q = _levels(codec, frames[0]), 9
    _, ref = _intra(codec, frames[0], lv, q)
    payload, _ = inter.encode_p(codec, frames[1], lv, q, ref)
    rng = np.random.default_rng(1)
    cases = [payload[:n] for n in (0, 1, 5, 12, 20, len(payload) // 2, len(payload) - 1)]
    for _ in range(40):
        b = bytearray(payload)
        for i in rng.integers(0, len(b), rng.integers(1, 6)):
            b[i] = int(rng.integers(0, 256))
        cases.append(bytes(b))
    cases += [bytes([inter.P_PAYLOAD_VERSION]) + bytes(rng.integers(0, 256, 300, dtype=np.uint8)) for _ in range(10)]
    for bad in cases:
        try:
            k, _, _, _ = inter.decode_p(codec, bad, lv, q, ref, height=H, width=W)
        except PayloadError:
            continue
        assert k.shape == ref.k.shape              # a mutation the coder cannot see decodes to some frame
    # no reference, or one of another size: a clean error
    with pytest.raises(PayloadError, match="reference"):
        inter.decode_p(codec, payload, lv, q, None, height=H, width=W)
    small = _clip(n=1, h=40, w=40)[0]
    _, other = _intra(codec, small, _levels(codec, small), q)
    with pytest.raises(PayloadError, match="reference"):
        inter.decode_p(codec, payload, lv, q, other, height=H, width=W)


def test_models_without_a_temporal_prior_refuse_p_frames():
    c = Codec("rac-tiny-v6")                 # the intra model the default builds on
    f = _clip(n=1)[0]
    lv = _levels(c, f)
    _, ref = _intra(c, f, lv, 8)
    with pytest.raises(ValueError, match="temporal prior"):
        inter.encode_p(c, f, lv, 8, ref)
    with pytest.raises(pipeline.PipelineError, match="temporal prior"):
        pipeline.FrameEncoder(c, f.shape[1], f.shape[0], 10, pipeline.EncodeOptions(gop=4))


def test_temporal_table_state_is_checked():
    st = inter.TemporalPrior.initial_state()
    inter.TemporalPrior(st)
    for bad in ({**st, "version": torch.tensor(99)}, {**st, "w": st["w"][:-1]},
                {**st, "w": st["w"].clone().fill_(300)}, {**st, "r": st["r"].to(torch.int32)}):
        with pytest.raises(ValueError):
            inter.TemporalPrior(bad)


# ------------------------------------------------------------------------------------------ container
def test_packet_reference_field_round_trips_and_intra_packets_are_unchanged():
    i = Packet(index=3, pts=3, quality=8, side_info=b"s", payload=b"p" * 10, stream_id=7)
    p = Packet(index=4, pts=4, quality=8, side_info=b"s", payload=b"p" * 10, stream_id=7, ref=3)
    bi, bp = i.to_bytes(), p.to_bytes()
    assert len(bp) == len(bi) + 4                       # I-frame packets keep the 2.0 layout byte for byte
    old_layout = Packet(index=3, pts=3, quality=8, side_info=b"s", payload=b"p" * 10, stream_id=7)
    assert bi == old_layout.to_bytes()
    qi, _ = unpack_packet(bi)
    qp, _ = unpack_packet(bp)
    assert qi.ref is None and qi.kind == "I" and qp.ref == 3 and qp.kind == "P" and qp.payload == p.payload
    assert unpack_packet(Packet(index=1, pts=1, quality=0, side_info=b"", payload=b"x", ref=0).to_bytes())[0].ref == 0
    for bad in (4, 5, -1, True, "3"):
        with pytest.raises(ContainerError):
            Packet(index=4, pts=4, quality=8, side_info=b"", payload=b"", ref=bad).to_bytes()


# ------------------------------------------------------------------------------------------ pipeline
def _clip_folder(folder, n=7, pan=0):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for i, f in enumerate(_clip(n=n, pan=pan)):
        Image.fromarray(f).save(os.path.join(folder, f"f{i:03d}.png"))
    return str(folder)


def _decode_all(codec, path, start=0):
    with Reader(path) as r:
        dec = pipeline.FrameDecoder(codec, r.header)
        return [dec.decode(p) for p in list(r)[start:]]


def test_pipeline_gop_types_start_at_an_intra_frame_and_skip_damaged(tmp_path, codec):
    src = _clip_folder(tmp_path / "clip")
    opts = pipeline.EncodeOptions(quality=9, model=codec.name, fps=10, gop=3, steps=0)
    out = tmp_path / "g.racv"
    rep = pipeline.encode_video(src, out, opts, codec=codec, progress=False)
    assert [s["type"] for s in rep["per_frame"]] == list("IPPIPPI") and rep["p_frames"] == 4
    with Reader(out) as r:
        pk = list(r)
        assert r.header.settings["gop"] == 3
    assert [p.ref for p in pk] == [None, 0, 1, None, 3, 4, None]
    full = _decode_all(codec, out)
    tail = _decode_all(codec, out, start=3)           # decoding starts at any intra frame
    assert all(np.array_equal(a, b) for a, b in zip(full[3:], tail))
    with Reader(out) as r:                             # a P-frame without its reference: a clean error
        dec = pipeline.FrameDecoder(codec, r.header)
        with pytest.raises(CorruptPacketError, match="reference frame 0 is not available"):
            dec.decode(pk[1])
    # all-intra: the same I-frames as a gop-1 stream of the same model
    rep1 = pipeline.encode_video(src, tmp_path / "i.racv", pipeline.EncodeOptions(
        quality=9, model=codec.name, fps=10, steps=0), codec=codec, progress=False)
    with Reader(tmp_path / "i.racv") as r:
        pk1 = list(r)
    assert all(p.ref is None for p in pk1) and "gop" not in rep1["settings"]
    assert pk[3].payload == pk1[3].payload and pk[0].payload == pk1[0].payload
    assert sum(len(p.payload) for p in pk) < sum(len(p.payload) for p in pk1)
    # a damaged P-frame: --skip-damaged replaces it and the P-frames after it up to the next intra frame
    data = bytearray(out.read_bytes())
    pos = data.find(pk[1].payload)
    assert pos > 0
    data[pos + 8] ^= 0xFF
    bad = tmp_path / "bad.racv"
    bad.write_bytes(bytes(data))
    drep = pipeline.decode_video(bad, tmp_path / "d.mkv", lossless=True, codec=codec, progress=False,
                                 skip_damaged=True, keep_frames=True)
    assert drep["damaged_frames"] == [1, 2]
    assert all(np.array_equal(a, b) for a, b in zip(drep["_frames"][3:], full[3:]))


def test_cli_gop_errors(tmp_path, capsys):
    from rac_video.cli import main

    src = _clip_folder(tmp_path / "clip", n=2)
    assert main(["encode", src, "-o", str(tmp_path / "a.racv"), "--gop", "0", "--no-progress"]) == 2
    assert main(["encode", src, "-o", str(tmp_path / "a.racv"), "--gop", "4", "-b", "100", "--no-progress"]) == 2
    assert main(["encode", src, "-o", str(tmp_path / "a.racv"), "--gop", "4", "--no-progress",
                 "--model", "rac-tiny-v6"]) == 2
    assert "temporal prior" in capsys.readouterr().err
    assert main(["encode", src, "-o", str(tmp_path / "a.racv"), "--gop", "4", "--masked", "2", "--no-progress"]) == 2
    assert "intra frames only" in capsys.readouterr().err
    assert not (tmp_path / "a.racv").exists()


def test_shipped_p_model_builds_on_v6_and_its_intra_frames_are_v6s():
    if "rac-tiny-v6p" not in weights.available():
        pytest.skip("rac-tiny-v6p not installed")
    rec = weights.read_record("rac-tiny-v6p")
    assert rec["base"]["name"] == "rac-tiny-v6" and rec["bytes"] < 100_000
    p, base = Codec("rac-tiny-v6p"), Codec("rac-tiny-v6")
    assert p.temporal is not None and base.temporal is None and p.device_independent
    frames = _clip(n=3, pan=1)
    lv, q = _levels(p, frames[0]), 9
    assert p.encode_frame(frames[0], lv, q) == base.encode_frame(frames[0], lv, q)
    H, W = frames[0].shape[:2]
    _, ref = _intra(p, frames[0], lv, q)
    dref = ref
    for f in frames[1:]:
        payload, ref = inter.encode_p(p, f, lv, q, ref)
        k, prm, K, dref = inter.decode_p(p, payload, lv, q, dref, height=H, width=W)
        assert torch.equal(k, ref.k)
        rec_p, y0 = inter.reconstruct(p, k, prm, lv, q, height=H, width=W, steps=K, ref=None)
        # without holding, a P-frame reconstructs exactly as an I-frame of the same levels
        kk, prm_i, _, _ = base.decode_levels(base.encode_frame(f, lv, q), lv, q, height=H, width=W)
        assert torch.equal(kk, k)
        assert np.array_equal(rec_p, base.reconstruct(kk, prm_i, lv, q, height=H, width=W, steps=K))


def _hold_run(codec, pan, level, q=6):
    frames = _clip(n=2, pan=pan)
    H, W = frames[0].shape[:2]
    lv = _levels(codec, frames[0], level)
    p0 = codec.encode_frame(frames[0], lv, q)
    k0, prm0, K, _ = codec.decode_levels(p0, lv, q, height=H, width=W)
    ref = inter.intra_reference(codec, p0, k0, lv, q, height=H, width=W, source=frames[0])
    _, ref.y0 = inter.reconstruct(codec, k0, prm0, lv, q, height=H, width=W, steps=K)
    st = {}
    payload, eref = inter.encode_p(codec, frames[1], lv, q, ref, stats=st)
    ref.y = None                                      # the decoder has no source latent
    k, prm, K, dref = inter.decode_p(codec, payload, lv, q, ref, height=H, width=W)
    assert torch.equal(dref.hold, eref.hold) and torch.equal(k, eref.k)
    _, y_hold = inter.reconstruct(codec, k, prm, lv, q, height=H, width=W, steps=K, ref=ref, hold=dref.hold)
    _, y_free = inter.reconstruct(codec, k, prm, lv, q, height=H, width=W, steps=K, ref=ref)
    return st, ref, k, dref.hold, y_hold, y_free


def test_hold_blocks_keep_the_reference_where_static_low_importance_levels_repeat(codec):
    st, ref, k, hold, y_hold, y_free = _hold_run(codec, pan=0, level=2)
    assert st["hold_blocks"] > 0
    same = (k == ref.k) & hold
    assert same.float().mean() > 0.2
    assert torch.equal(y_hold[same.expand_as(y_hold)], ref.y0[same.expand_as(y_hold)])
    assert torch.equal(y_hold[~same.expand_as(y_hold)], y_free[~same.expand_as(y_hold)])
    # important content, or content that moved, is never held
    for pan, level in ((0, 12), (8, 2)):
        st, _, _, hold, y_hold, y_free = _hold_run(codec, pan=pan, level=level)
        assert st["hold_blocks"] == 0 and not hold.any() and torch.equal(y_hold, y_free)


def test_frame_encoder_intra_on_request_and_at_scene_cuts(codec):
    from rac_video.importance.source import open_source

    frames = _clip(n=4, pan=1)
    H, W = frames[0].shape[:2]
    enc = pipeline.FrameEncoder(codec, W, H, 10, pipeline.EncodeOptions(quality=8, model=codec.name, gop=10, steps=0))
    src = open_source("uniform", (H, W), 10.0, levels=codec.levels)
    kinds = []
    for i, f in enumerate(frames):
        if i == 2:
            enc.request_intra()
        kinds.append(enc.encode(f, src.step(f), i, i)[0].kind)
    assert kinds == ["I", "P", "I", "P"]
    other = np.ascontiguousarray(np.random.default_rng(5).integers(0, 256, frames[0].shape).astype(np.uint8))
    pkt, st = enc.encode(other, src.step(other), 4, 4)      # nothing in common with the frame before
    assert pkt.kind == "I" and st.get("scene_cut")


def test_entropy_half_may_run_ahead_of_the_pictures(codec):
    """SequenceDecoder.entropy for every frame first (what decode_video's reader thread does, here as far
    ahead as it can get, with one kept reference), then the pictures in order: the same frames as decoding
    one frame at a time — hold blocks included (they read the reference's reconstructed latent)."""
    frames = _clip(n=5, pan=0)
    H, W = frames[0].shape[:2]
    lv = _levels(codec, frames[0], 2)
    enc = inter.SequenceEncoder(codec, gop=5)
    coded = [enc.encode(f, lv, 6, index=i) for i, f in enumerate(frames)]
    assert sum(st.get("hold_blocks", 0) for _, _, st in coded) > 0
    one = inter.SequenceDecoder(codec, height=H, width=W)
    want = [one.decode(p, lv, 6, index=i, ref=ref).frame for i, (p, ref, _) in enumerate(coded)]
    ahead = inter.SequenceDecoder(codec, height=H, width=W)
    ents = [ahead.entropy(p, lv, 6, index=i, ref=ref) for i, (p, ref, _) in enumerate(coded)]
    assert list(ahead.refs) == [4] and ents[4].prev is ents[3].state     # states kept by the frames, not the dict
    got = [ahead.picture(e).frame for e in ents]
    assert all(np.array_equal(a, b) for a, b in zip(want, got))


def test_decode_video_overlapped_equals_frame_by_frame(tmp_path, codec):
    src = _clip_folder(tmp_path / "clip")
    out = tmp_path / "g.racv"
    pipeline.encode_video(src, out, pipeline.EncodeOptions(quality=7, model=codec.name, fps=10, gop=4, steps=1),
                          codec=codec, progress=False)
    rep = pipeline.decode_video(out, tmp_path / "d.mkv", lossless=True, codec=codec, progress=False, keep_frames=True)
    want = _decode_all(codec, out)
    assert len(rep["_frames"]) == len(want) and all(np.array_equal(a, b) for a, b in zip(rep["_frames"], want))
    assert rep["codec_ms_per_frame"] > 0
