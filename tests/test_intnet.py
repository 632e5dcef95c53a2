"""Exact integer entropy networks (rac_video.entropy.intnet) and the determinism they buy.

The integer (μ, λ) and the coding parameters must be the same integers under every arithmetic a
decoder may have (ops backend, oneDNN on/off or limited to AVX2, thread count): checked here on
synthetic networks and on the shipped device-independent model over > 100 frames, image and video.
"""
import numpy as np
import pytest
import torch

from rac_video import ops, schedule
from rac_video.codec.context import CheckerboardContext, anchor_mask
from rac_video.codec.hyperprior import HyperPrior
from rac_video.entropy import intnet
from rac_video.entropy.models import GaussianConditional


def _float_nets(seed=0, C=4):
    torch.manual_seed(seed)
    hp = HyperPrior(C, hyper_channels=2, width=8)
    ctx = CheckerboardContext(C, width=8)
    torch.nn.init.normal_(ctx.net[-1].weight, std=0.05)
    return hp.eval(), ctx.eval()


def _inputs(seed=1, n=2, h=16, w=24, C=4, q=7):
    g = torch.Generator().manual_seed(seed)
    z = torch.randint(-3, 4, (n, 2, h // 4, w // 4), generator=g).float()
    level = torch.randint(0, 16, (n, 1, h, w), generator=g, dtype=torch.int32)
    cond_int = torch.cat([intnet.integer_condition(level[i:i + 1], q, 2, 16) for i in range(n)])
    y16 = torch.randint(-127, 128, (n, C, h, w), generator=g).float()
    return z, level, cond_int, y16


def _frozen(seed=0):
    hp, ctx = _float_nets(seed)
    qh, qc = intnet.QHyperSynthesis(hp), intnet.QContext(ctx)
    z, level, cond_int, y16 = _inputs()
    with torch.no_grad():
        qh.calibrate(z, cond_int.float())
        mu, lam = qh(z, cond_int.float())
        qc.calibrate(y16, mu, lam, cond_int.float(), anchor_mask(*y16.shape[-2:]))
    return qh, qc, intnet.IntNet(intnet.freeze(qh, qc))


def _run(net, z, cond_int, y16):
    mu, lam = net.synthesis(z.to(torch.int64), cond_int)
    return net.context(y16.to(torch.int64), mu, lam, cond_int, anchor_mask(*y16.shape[-2:]))


def test_integer_network_matches_its_training_emulation():
    qh, qc, net = _frozen()
    z, level, cond_int, y16 = _inputs(seed=5)
    mu_i, lam_i = _run(net, z, cond_int, y16)
    with torch.no_grad():
        mu_q, lam_q = qh(z, cond_int.float())
        mu_q, lam_q = qc(y16, mu_q, lam_q, cond_int.float(), anchor_mask(*y16.shape[-2:]))
    assert mu_i.dtype == lam_i.dtype == torch.int64
    # the multipliers are rounded to 2^-30: the integer net is the emulation up to rare last-step ties
    assert (mu_i - mu_q).abs().float().mean() < 64 and (lam_i - lam_q).abs().float().mean() < 2
    assert lam_i.min() >= intnet.LAMBDA_MIN and lam_i.max() <= intnet.LAMBDA_MAX


@pytest.mark.parametrize("variant", ["ops-torch", "ops-triton", "onednn-off", "threads-1"])
def test_integer_network_is_the_same_under_every_arithmetic(variant):
    _, _, net = _frozen()
    z, level, cond_int, y16 = _inputs(seed=9)
    want = _run(net, z, cond_int, y16)
    if variant.startswith("ops-"):
        if ops.int_conv2d.reasons("cpu")[variant[4:]]:
            pytest.skip(ops.int_conv2d.reasons("cpu")[variant[4:]])
        with ops.use_backend(variant[4:]):
            got = _run(net, z, cond_int, y16)
    elif variant == "onednn-off":
        with torch.backends.mkldnn.flags(enabled=False):
            got = _run(net, z, cond_int, y16)
    else:
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            got = _run(net, z, cond_int, y16)
        finally:
            torch.set_num_threads(n)
    assert all(torch.equal(a, b) for a, b in zip(want, got))


def test_layer_bounds_are_checked_when_built():
    state = intnet.freeze(*_frozen()[:2])
    state["h_s.h1.bias"] = torch.full_like(state["h_s.h1.bias"], 2**31 - 2)
    with pytest.raises(ValueError, match="beyond int32"):
        intnet.IntNet(state)
    state = intnet.freeze(*_frozen()[:2])
    state["version"] = torch.tensor(99)
    with pytest.raises(ValueError, match="format 99"):
        intnet.IntNet(state)


def test_integer_coding_parameters_match_the_float_formula():
    """offset = ⌊μ/Δ + u + ½⌋ and the (scale, mean bucket) index, computed in integers, equal the float
    op's on the same μ = μ_int·2^-12, s = e^{λ/256} except where the float rounding straddles a boundary."""
    g = torch.Generator().manual_seed(3)
    shape = (1, 8, 40, 50)
    mu = torch.randint(-2**16, 2**16, shape, generator=g, dtype=torch.int64)
    lam = torch.randint(intnet.LAMBDA_MIN, 900, shape, generator=g, dtype=torch.int64)
    level = torch.randint(0, 16, (1, 1, 40, 50), generator=g, dtype=torch.int32)
    for q in (0, 8, 15):
        off_i, idx_i = GaussianConditional().int_params(mu, lam, level, q, 2, 16, seed=11, dither_frame=0)
        delta = schedule.level_table(q, 16, 2).delta
        off_f, idx_f = GaussianConditional().params(mu.float() * 2.0**-12, torch.exp(lam.double() / 256).float(),
                                                    level, delta, 11, 0)
        assert off_i.dtype == idx_i.dtype == torch.int32
        assert (off_i == off_f).float().mean() > 0.999
        assert (idx_i == idx_f).float().mean() > 0.99


def test_anchor_input_is_round_16_yhat():
    g = torch.Generator().manual_seed(4)
    k = torch.randint(-40, 40, (1, 4, 8, 8), generator=g, dtype=torch.int32)
    level = torch.randint(0, 16, (1, 1, 8, 8), generator=g, dtype=torch.int32)
    delta = schedule.level_table(9, 16, 2).delta
    want = torch.round(16 * ops.dequantize_reference(k, level, delta, 5, 0).double()).clamp(-127, 127)
    got = intnet.anchors16(k, level, 9, 2, 16, 5, 0)
    assert (got.double() - want).abs().max() <= 1 and (got.double() == want).float().mean() > 0.99


# ------------------------------------------------------------------------------------------ shipped model
@pytest.fixture(scope="module")
def int_codec():
    from rac_video.codec import load_model, weights

    name = next((m for m in weights.available() if weights.read_record(m).get("device_independent")), None)
    if name is None:
        pytest.skip("no device-independent model installed")
    return load_model(name)


def _frames(n, seed=0):
    """n small frames: crops of Kodak when present, else smooth synthetic textures."""
    import os

    from conftest import DATA

    rng = np.random.default_rng(seed)
    root = os.path.join(DATA, "eval", "kodak")
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".png"))
    out = []
    if files:
        from PIL import Image

        imgs = [np.asarray(Image.open(f).convert("RGB")) for f in files[:6]]
        for i in range(n):
            im = imgs[i % len(imgs)]
            y, x = rng.integers(0, im.shape[0] - 48), rng.integers(0, im.shape[1] - 64)
            out.append(np.ascontiguousarray(im[y:y + 48, x:x + 64]))
    else:
        yy, xx = np.mgrid[0:48, 0:64]
        for i in range(n):
            f = np.stack([np.sin(xx / (3 + i % 7)) * 120 + 128, np.cos(yy / (2 + i % 5)) * 120 + 128,
                          ((xx * yy) % 251)], -1)
            out.append(np.clip(f + rng.normal(0, 8, f.shape), 0, 255).astype(np.uint8))
    return out


def test_shipped_integer_model_decodes_the_same_symbols_everywhere(int_codec):
    """120 frames × qualities 0/5/10/15 × uniform / centre / random-blob maps: the decoded levels k are
    identical with ops on torch, C++ (and Triton), oneDNN off, one thread; every frame decodes."""
    from rac_video.importance.random_maps import random_importance
    from rac_video.importance.sideinfo import levels_from_importance

    c = int_codec
    assert c.device_independent and c.payload_version in (4, 5)
    frames = _frames(120)
    hw = c.latent_hw(48, 64)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:64]
    centre = np.exp(-(((yy - 24) ** 2 + (xx - 32) ** 2) / (2 * 12.0 ** 2))).astype(np.float32)
    cases = []
    for i, f in enumerate(frames):
        q = (0, 5, 10, 15)[i % 4]
        kind = i % 3
        imp = None if kind == 0 else centre if kind == 1 else random_importance(rng, (48, 64), "blobs")
        lv = np.full(hw, c.levels - 1, np.uint8) if imp is None else levels_from_importance(imp, hw, c.levels)
        cases.append((c.encode_frame(f, lv, q, seed=i), lv, q, i))

    def decode_all():
        return [c.decode_levels(p, lv, q, seed=s, height=48, width=64)[0] for p, lv, q, s in cases]

    want = decode_all()
    variants = {"onednn-off": lambda: torch.backends.mkldnn.flags(enabled=False),
                "ops-torch": lambda: ops.use_backend("torch")}
    if not ops.int_conv2d.reasons("cpu")["cpu"]:
        variants["ops-cpu"] = lambda: ops.use_backend("cpu")
    for name, ctx in variants.items():
        with ctx():
            got = decode_all()
        assert all(torch.equal(a, b) for a, b in zip(want, got)), name
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = decode_all()
    finally:
        torch.set_num_threads(n)
    assert all(torch.equal(a, b) for a, b in zip(want, got)), "threads-1"
    # the levels are the encoder's own: decode_levels returns exactly what encode_frame quantized
    p, lv, q, s = cases[0]
    k_enc = ops.quantize(c.g_a(c.frame_tensor(frames[0])), c.level_map(lv, 48, 64),
                         c.level_table(q).delta, s, 0)
    assert torch.equal(want[0], k_enc)


def _clip(path, frames):
    from rac_video.io import VideoWriter

    with VideoWriter(path, frames[0].shape[1], frames[0].shape[0], 25, codec="ffv1") as w:
        for f in frames:
            w.write(f)


def test_video_files_check_clean_under_other_isas(int_codec, tmp_path):
    """The video path, 100 frames: two clips through the pipeline (saliency map at q 4; a uniform map under
    bitrate control, so the quality moves per frame), checked by ``rac_video.check`` with oneDNN off,
    oneDNN limited to AVX2 (another CPU) and one OpenMP thread (subprocesses)."""
    from rac_video.check import check_files
    from rac_video.pipeline import EncodeOptions, encode_video

    files = []
    for name, opts in (("sal", EncodeOptions(quality=4, importance="saliency", model=int_codec.name)),
                       ("rate", EncodeOptions(quality=None, bitrate_kbps=300, model=int_codec.name))):
        src, dst = tmp_path / f"{name}.mkv", tmp_path / f"{name}.racv"
        _clip(src, _frames(50, seed=len(files) + 2))
        encode_video(str(src), dst, opts, progress=False, codec=int_codec)
        files.append(dst)
    rep = check_files(files, variants=["onednn-off", "isa-avx2", "omp-1"])
    assert rep["frames"] == 100
    assert all("skipped" not in v for v in rep["variants"].values()), rep["variants"]
    assert rep["identical_symbols"] and rep["failed_decodes"] == 0, rep


def test_check_reports_differing_symbols(monkeypatch, tmp_path):
    """The comparison itself: a variant whose digests differ is reported and makes the check fail."""
    from rac_video import check

    calls = {"n": 0}

    def fake(path, *, device="cpu", max_frames=None):
        calls["n"] += 1
        other = calls["n"] > 1
        return [{"index": 0, "symbols": "b" if other else "a", "pixels": "p"},
                {"index": 1, "error": "PayloadError: corrupt"} if other else {"index": 1, "symbols": "a", "pixels": "p"}]

    monkeypatch.setattr(check, "frame_digests", fake)
    rep = check.check_files([tmp_path / "x.racv"], variants=["onednn-off"])
    v = rep["variants"]["onednn-off"]
    assert v["symbols_differ"] == [f"{tmp_path / 'x.racv'}#0"] and v["failed"] == [f"{tmp_path / 'x.racv'}#1"]
    assert not rep["identical_symbols"] and rep["failed_decodes"] == 1 and rep["symbol_differences"] == 1


def test_check_command_exit_codes(int_codec, tmp_path):
    """``rac-video check``: 0 when the symbols agree under the variants asked for, a one-line error (2) for
    an unknown variant or a missing file (the CLI's "bad input")."""
    from rac_video.cli import main
    from rac_video.codec.image import encode_image

    f = tmp_path / "a.raci"
    f.write_bytes(encode_image(_frames(1)[0], None, 6, model=int_codec))
    assert main(["check", str(f), "--variants", "onednn-off,ops-torch", "--json"]) == 0
    assert main(["check", str(f), "--variants", "bogus"]) == 2
    assert main(["check", str(tmp_path / "missing.raci")]) == 2
