"""The masked level (rac_video.codec.model docstring): the lowest importance level's elements cost no
y bits, the decoder generates them from the entropy model's mean at t = 1, and payloads without the
flag are what they were."""
import numpy as np
import pytest
import torch

from rac_video import ops
from rac_video.codec import weights
from rac_video.codec.model import MASKED_FLAG, Codec, PayloadError


@pytest.fixture
def random_dir(random_weights_dir, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", random_weights_dir)
    return random_weights_dir


@pytest.fixture(params=["rand-a", "rand-ctx"])
def codec(request, random_dir):
    return Codec(request.param, steps=1, fusion=0.01 if request.param == "rand-ctx" else 0.0)


def _frame(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 3) % 256, (yy * 5) % 256, (xx + yy) % 256], -1)
    return np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def _levels(codec, h, w, seed=0):
    """Random levels with a large block of level 0 (the masked level) and some level 0 elsewhere."""
    hw = codec.latent_hw(h, w)
    lv = np.random.default_rng(seed).integers(0, codec.levels, hw).astype(np.uint8)
    lv[: hw[0] // 2, : hw[1] // 2] = 0
    return lv


def test_round_trip_codes_only_the_unmasked_elements(codec):
    h, w, q, seed = 48, 72, 6, 3
    f, lv = _frame(h, w), _levels(codec, h, w)
    p = codec.encode_frame(f, lv, q, seed=seed, masked=True)
    assert p == codec.encode_frame(f, lv, q, seed=seed, masked=True)
    plain = codec.encode_frame(f, lv, q, seed=seed)
    assert p[0] == plain[0] | MASKED_FLAG and plain[0] & MASKED_FLAG == 0
    assert len(p) < len(plain)
    k, prm, K, masked = codec.decode_levels(p, lv, q, seed=seed, height=h, width=w)
    assert masked and K == 1
    level = codec.level_map(lv, h, w)
    want = ops.quantize(codec.g_a(codec.frame_tensor(f)), level, codec.level_table(q).delta, seed, 0)
    coded = (level != 0).expand_as(k)
    assert torch.equal(k[coded], want[coded])          # the coded elements: exactly the encoder's levels
    k_plain = codec.decode_levels(plain, lv, q, seed=seed, height=h, width=w).k
    assert torch.equal(k_plain, want)
    a = codec.decode_frame(p, lv, q, seed=seed, height=h, width=w)
    assert a.shape == (h, w, 3) and np.array_equal(a, codec.decode_frame(p, lv, q, seed=seed, height=h, width=w))


def test_masked_elements_cost_no_bits_and_the_estimate_holds(codec):
    h, w, q = 48, 72, 9
    f, lv = _frame(h, w, 1), _levels(codec, h, w, seed=1)
    yb, zb = codec.symbol_bits(f, lv, q, masked=True)
    yb_plain, zb_plain = codec.symbol_bits(f, lv, q)
    m = np.broadcast_to(codec.level_map(lv, h, w).numpy()[0] == 0, yb.shape)     # padded latent grid
    assert yb[m].sum() == 0 and yb_plain[m].sum() > 0
    assert np.array_equal(yb[~m], yb_plain[~m]) or codec.has_context    # a context sees other anchors
    assert np.array_equal(zb, zb_plain)
    p = codec.encode_frame(f, lv, q, masked=True)
    est = codec.estimate_bits(f, lv, q, masked=True)
    assert abs(8 * len(p) - est) <= 8 * 4, (8 * len(p), est)


def test_without_masked_elements_the_same_levels_and_pixels(codec):
    h, w, q = 40, 56, 7
    f = _frame(h, w, 2)
    lv = np.random.default_rng(4).integers(1, codec.levels, codec.latent_hw(h, w)).astype(np.uint8)
    p, plain = codec.encode_frame(f, lv, q, masked=True), codec.encode_frame(f, lv, q)
    assert p[0] == plain[0] | MASKED_FLAG
    assert abs(len(p) - len(plain)) <= 4             # the same symbols (the streams record another shape)
    assert torch.equal(codec.decode_levels(p, lv, q, height=h, width=w).k,
                       codec.decode_levels(plain, lv, q, height=h, width=w).k)
    assert np.array_equal(codec.decode_frame(p, lv, q, height=h, width=w),
                          codec.decode_frame(plain, lv, q, height=h, width=w))


def test_all_masked_frame(codec):
    h, w = 24, 40
    f, lv = _frame(h, w, 3), np.zeros(codec.latent_hw(h, w), np.uint8)
    p = codec.encode_frame(f, lv, 4, masked=True)
    assert len(p) < len(codec.encode_frame(f, lv, 4))
    assert codec.decode_frame(p, lv, 4, height=h, width=w).shape == (h, w, 3)


def test_decoder_takes_the_mean_for_masked_elements(codec, monkeypatch):
    h, w, q = 48, 40, 5
    f, lv = _frame(h, w, 5), _levels(codec, h, w, seed=5)
    p = codec.encode_frame(f, lv, q, masked=True)
    k, prm, K, masked = codec.decode_levels(p, lv, q, height=h, width=w)
    mu, _ = codec.gaussian_params(prm)
    seen = {}
    real_denoise, real_g_s = codec.denoise, codec.g_s

    def spy(y_hat, gamma, steps):
        seen.update(y=y_hat, g=gamma)
        return real_denoise(y_hat, gamma, steps)

    def spy_g_s(y0):
        seen["y0"] = y0
        return real_g_s(y0)

    monkeypatch.setattr(codec, "denoise", spy)
    monkeypatch.setattr(codec, "g_s", spy_g_s)
    codec.decode_frame(p, lv, q, height=h, width=w)
    level = codec.level_map(lv, h, w)
    table = codec.level_table(q)
    m = (level == 0).expand_as(mu)
    assert torch.equal(seen["y"][m], mu[m]) and torch.equal(seen["y0"][m], mu[m])
    assert torch.equal(seen["g"], table.gamma[level.long()])
    want = codec.conditional.dequantize(k, level, table.delta, 0, 0)
    assert torch.equal(seen["y"][~m], want[~m])
    assert not torch.equal(seen["y0"][~m], want[~m])                # the coded elements are denoised


def test_a_masked_payload_for_another_payload_version_is_refused(codec):
    h, w = 16, 16
    f, lv = _frame(h, w), _levels(codec, h, w)
    p = bytearray(codec.encode_frame(f, lv, 3, masked=True))
    p[0] ^= 1                                                  # another version, flag kept
    with pytest.raises(PayloadError, match="version"):
        codec.decode_frame(bytes(p), lv, 3, height=h, width=w)


def test_several_masked_levels(codec):
    h, w, q = 48, 72, 6
    f, lv = _frame(h, w, 7), _levels(codec, h, w, seed=7)
    sizes = [len(codec.encode_frame(f, lv, q, masked=M)) for M in (0, 1, 4, 8)]
    assert sizes == sorted(sizes, reverse=True) and sizes[1] > sizes[3]
    assert codec.decode_levels(codec.encode_frame(f, lv, q, masked=4), lv, q, height=h, width=w).masked == 4
    p = codec.encode_frame(f, lv, q, masked=4, colour=False)         # the M byte right after the header
    assert p[0] & MASKED_FLAG and p[codec._hdr.size] == 4
    k, prm, K, masked = codec.decode_levels(p, lv, q, height=h, width=w)
    assert masked == 4
    level = codec.level_map(lv, h, w)
    want = ops.quantize(codec.g_a(codec.frame_tensor(f)), level, codec.level_table(q).delta, 0, 0)
    coded = (level >= 4).expand_as(k)
    assert torch.equal(k[coded], want[coded])
    yb, _ = codec.symbol_bits(f, lv, q, masked=4)
    assert yb[~coded[0].numpy()].sum() == 0
    assert abs(8 * len(p) - codec.estimate_bits(f, lv, q, masked=4, colour=False)) <= 32
    for bad in (0, codec.levels, 255):                          # the M byte out of range
        with pytest.raises(PayloadError, match="masked levels"):
            codec.decode_frame(p[:codec._hdr.size] + bytes([bad]) + p[codec._hdr.size + 1:], lv, q, height=h, width=w)
    with pytest.raises(ValueError, match="masked"):
        codec.encode_frame(f, lv, q, masked=codec.levels)


def test_record_sets_the_default(random_dir):
    c = Codec("rand-a", masked=True)
    f = _frame(16, 24)
    lv = np.zeros(c.latent_hw(16, 24), np.uint8)
    assert c.encode_frame(f, lv, 3)[0] & MASKED_FLAG
    assert not c.encode_frame(f, lv, 3, masked=False)[0] & MASKED_FLAG
    assert not Codec("rand-a").masked


def test_shipped_integer_model_masked_round_trip():
    """The device-independent model (integer entropy networks, context): masked anchors take the
    integer offset on both ends, so the rest decode exactly."""
    if "rac-tiny-v6" not in weights.available():
        pytest.skip("shipped weights not installed")
    c = Codec("rac-tiny-v6")
    h, w, q = 64, 96, 4
    f, lv = _frame(h, w, 6), _levels(c, h, w, seed=6)
    p = c.encode_frame(f, lv, q, masked=True, rdoq=0.0)
    k = c.decode_levels(p, lv, q, height=h, width=w).k
    level = c.level_map(lv, h, w)
    want = ops.quantize(c.g_a(c.frame_tensor(f)), level, c.level_table(q).delta, 0, 0)
    coded = (level != 0).expand_as(k)
    assert torch.equal(k[coded], want[coded])
    yb, _ = c.symbol_bits(f, lv, q, masked=True, rdoq=0.0)
    assert yb[:, lv == 0].sum() == 0 and abs(8 * len(p) - c.estimate_bits(f, lv, q, masked=True, rdoq=0.0)) < 64
