"""RDOQ (rac_video.codec.rdoq): the encoder's level choice, and the codec paths that use it."""
import json
import shutil

import numpy as np
import pytest
import torch

from rac_video import ops
from rac_video.codec import rdoq, weights
from rac_video.codec.model import Codec
from rac_video.entropy import conditional_gaussian_tables

TABLES = conditional_gaussian_tables()


def _cost(k, v, offset, index, alpha):
    bits = TABLES.symbol_bits((k - offset).numpy(), index.numpy()).reshape(k.shape)
    return bits + alpha * rdoq.LAMBDA_PER_DELTA2 * (k.double().numpy() - v.double().numpy()) ** 2


def _random_case(seed, n=4000):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn((1, 4, 25, 40), generator=g) * 4
    k = torch.floor(v + 0.5).to(torch.int32)
    offset = torch.randint(-3, 4, k.shape, generator=g, dtype=torch.int32)
    index = torch.randint(0, TABLES.num_tables, k.shape, generator=g, dtype=torch.int32)
    return k, v, offset, index


@pytest.mark.parametrize("alpha", [0.25, 1.0, 4.0])
def test_levels_move_toward_the_centre_while_the_cost_falls(alpha):
    k, v, offset, index = _random_case(int(alpha * 4))
    out = rdoq.refine_levels(k, v, offset, index, TABLES, alpha)
    assert out.dtype == torch.int32 and out.shape == k.shape
    moved = (out - k).abs()
    assert int(moved.max()) <= rdoq.MAX_MOVES and int(moved.sum()) > 0
    # only toward the centre, never past it
    assert torch.all((out - k) * (offset - k) >= 0) and torch.all((out - offset).abs() <= (k - offset).abs())
    before, after = _cost(k, v, offset, index, alpha), _cost(out, v, offset, index, alpha)
    assert np.all(after <= before + 1e-12)
    # greedy stop: one more step toward the centre would not have been cheaper (unless out of moves)
    nxt = out + torch.sign(offset - out)
    stop = (nxt != out) & (moved < rdoq.MAX_MOVES)
    assert np.all(_cost(nxt, v, offset, index, alpha)[stop.numpy()] >= after[stop.numpy()] - 1e-12)


def test_rdoq_off_mask_and_bad_alpha():
    k, v, offset, index = _random_case(7)
    assert torch.equal(rdoq.refine_levels(k, v, offset, index, TABLES, 0.0), k)
    assert torch.equal(rdoq.refine_levels(k, v, offset, index, TABLES, 1e9), k)     # distortion dominates
    where = torch.zeros((1, 1, 25, 40), dtype=torch.bool)
    where[..., ::2, :] = True
    out = rdoq.refine_levels(k, v, offset, index, TABLES, 0.5, where=where)
    assert torch.equal(out[..., 1::2, :], k[..., 1::2, :]) and not torch.equal(out[..., ::2, :], k[..., ::2, :])
    for bad in (-1.0, float("nan"), float("inf"), "x", None):
        with pytest.raises(ValueError, match="alpha"):
            rdoq.check_alpha(bad)


def test_scaled_latent_rounds_to_the_quantizer_levels():
    g = torch.Generator().manual_seed(3)
    y = torch.randn((1, 3, 9, 11), generator=g) * 3
    level = torch.randint(0, 16, (1, 1, 9, 11), generator=g, dtype=torch.int32)
    delta = torch.linspace(2.0, 0.1, 16)
    v = rdoq.scaled_latent(y, level, delta, 5, 2)
    assert torch.equal(torch.floor(v + 0.5).to(torch.int32), ops.quantize(y, level, delta, 5, 2))


@pytest.fixture(params=["rand-a", "rand-ctx"])
def codec(request, random_weights_dir, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", random_weights_dir)
    return Codec(request.param, steps=1)


def _frame(h, w, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_decoder_recovers_the_levels_rdoq_wrote(codec, monkeypatch):
    """The decoder needs nothing new: its ŷ is the dequantized k the RDOQ encoder chose."""
    h, w, q, alpha = 48, 40, 9, 0.5
    f = _frame(h, w, 1)
    lv = np.random.default_rng(2).integers(0, codec.levels, codec.latent_hw(h, w)).astype(np.uint8)
    chosen = []
    real = rdoq.refine_levels
    monkeypatch.setattr(rdoq, "refine_levels", lambda *a, **kw: chosen.append(real(*a, **kw)) or chosen[-1])
    payload = codec.encode_frame(f, lv, q, seed=5, rdoq=alpha)
    assert len(chosen) == (1 if codec.context is None else 2)
    k = chosen[-1]
    level, table = codec.level_map(lv, h, w), codec.level_table(q)
    plain = ops.quantize(codec.g_a(codec.frame_tensor(f)), level, table.delta, 5, 0)
    assert not torch.equal(k, plain)                       # RDOQ changed some levels
    seen = {}
    monkeypatch.setattr(codec, "denoise", lambda y_hat, gamma, steps: seen.setdefault("y", y_hat))
    codec.decode_frame(payload, lv, q, seed=5, height=h, width=w)
    assert torch.equal(seen["y"], ops.dequantize(k, level, table.delta, 5, 0))


def test_rdoq_estimate_matches_and_saves_bits(codec):
    h, w = 96, 128
    f = _frame(h, w, 4)
    lv = np.full(codec.latent_hw(h, w), codec.levels - 1, np.uint8)
    for q in (2, 12):
        est = codec.estimate_bits(f, lv, q, rdoq=1.0)
        got = 8 * len(codec.encode_frame(f, lv, q, rdoq=1.0))
        assert abs(got - est) <= 0.01 * est + 64, (q, got, est)
        if codec.context is None:          # each move lowers its symbol's bits (with a context the rest's
            assert est < codec.estimate_bits(f, lv, q, rdoq=0.0)      # tables follow the anchors)
    assert codec.encode_frame(f, lv, 5, rdoq=0.7) == codec.encode_frame(f, lv, 5, rdoq=0.7)
    with pytest.raises(ValueError, match="alpha"):
        codec.encode_frame(f, lv, 5, rdoq=-1)


def test_codec_default_alpha_comes_from_the_model_record(random_weights_dir, monkeypatch, tmp_path):
    for name in ("rand-a.pt", "rand-a.json"):
        shutil.copy(random_weights_dir / name, tmp_path / name)
    rec = json.loads((tmp_path / "rand-a.json").read_text())
    (tmp_path / "rand-a.json").write_text(json.dumps({**rec, "rdoq": 0.5}))
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    f = _frame(32, 32, 9)
    a = Codec("rand-a")
    assert a.rdoq == 0.5 and Codec("rand-a", rdoq=0).rdoq == 0.0
    lv = np.full(a.latent_hw(32, 32), a.levels - 1, np.uint8)
    assert a.encode_frame(f, lv, 4) == a.encode_frame(f, lv, 4, rdoq=0.5) != a.encode_frame(f, lv, 4, rdoq=0)
    monkeypatch.setattr(weights, "WEIGHTS_DIR", random_weights_dir)
    assert Codec("rand-a").rdoq == 0.0                       # a record without one: RDOQ off
    with pytest.raises(ValueError, match="alpha"):
        Codec("rand-a", rdoq=float("nan"))
    with pytest.raises(ValueError, match="steps"):
        Codec("rand-a", steps=65)
