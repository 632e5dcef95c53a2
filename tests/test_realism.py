"""The decoder's realism control and the colour layer (docs/design.md §3.5.5, §3.5.6): the same payload decodes
in any mode, every mode is reproducible, ρ = 0 is the fidelity decode, the ROI keeps the fidelity pixels
where the model ships a realism synthesis, and every 64×64 block keeps its colour."""
import math

import numpy as np
import pytest
import torch

from rac_video.codec import colour
from rac_video.codec.denoiser import Denoiser, denoise
from rac_video.codec.model import COLOUR_FLAG, Codec, PayloadError
from rac_video.codec.posterior import sample_posterior, truncated_normal_mean, truncated_normal_sample
from rac_video.codec.realism import check_realism, realism_generator, realism_weight
from rac_video.errors import InvalidInputError


def _frame(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 3) % 256, (yy * 5) % 256, (xx + yy) % 256], -1)
    return np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture
def real_codec(random_weights_dir, monkeypatch):
    from rac_video.codec import weights

    monkeypatch.setattr(weights, "WEIGHTS_DIR", random_weights_dir)
    return Codec("rand-real", steps=1, fusion=0.01)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan, math.inf, "x", None, True])
def test_check_realism_rejects(bad):
    with pytest.raises(InvalidInputError):
        check_realism(bad)


def test_realism_weight_is_zero_in_the_roi_and_rho_at_level_zero():
    level = torch.tensor([0, 5, 7, 8, 15], dtype=torch.int32).view(1, 1, 1, 5)
    w = realism_weight(level, 16, 0.8)
    # importance ≥ ½ (levels 8..15 of 16, the metrics' ROI threshold) keeps the fidelity decode
    assert w[0, 0, 0].tolist() == pytest.approx([0.8, 0.8 * (1 - 10 / 15), 0.8 * (1 - 14 / 15), 0.0, 0.0])


def test_stochastic_ddim_with_eta_zero_is_the_deterministic_path():
    torch.manual_seed(0)
    den = Denoiser().eval()
    y = torch.randn(1, 16, 6, 7)
    g = torch.linspace(-6, 4, 42).view(1, 1, 6, 7)
    with torch.no_grad():
        a = denoise(den, y, g, 3)
        b = denoise(den, y, g, 3, eta=torch.zeros_like(g), generator=torch.Generator().manual_seed(1))
        c = denoise(den, y, g, 3, eta=torch.ones_like(g), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
    assert (a - c).abs().max() > 1e-2          # η = 1 re-injects noise


def test_truncated_normal_samples_stay_in_the_bin_and_average_to_its_mean():
    n = 200_000
    m, sd = torch.full((n,), 0.3, dtype=torch.float64), torch.full((n,), 0.7, dtype=torch.float64)
    lo, hi = torch.full_like(m, -2.5), torch.full_like(m, -1.0)     # mostly in the lower tail
    u = torch.rand(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = truncated_normal_sample(m, sd, lo, hi, u)
    assert float(x.min()) >= -2.5 and float(x.max()) <= -1.0
    assert float(x.mean()) == pytest.approx(float(truncated_normal_mean(m, sd, lo, hi)[0]), abs=3e-3)


def test_sample_posterior_weight_zero_is_the_identity():
    shape = (1, 4, 3, 5)
    y0, y_den, y_hat = torch.randn(shape), torch.randn(shape), torch.randn(shape)
    mu, s = torch.randn(shape), torch.rand(shape) + 0.2
    delta = torch.full((1, 1, 3, 5), 2.0)
    out = sample_posterior(y0, y_den, y_hat, mu, s, delta, 0.01, torch.zeros(1, 1, 3, 5),
                           torch.Generator().manual_seed(0))
    assert torch.equal(out, y0)


def test_same_payload_decodes_in_every_mode_reproducibly(real_codec):
    h, w = 48, 64
    f = _frame(h, w)
    lv = np.zeros(real_codec.latent_hw(h, w), np.uint8)
    lv[2:4, 3:5] = 15                                               # a small ROI in a low-importance frame
    p = real_codec.encode_frame(f, lv, 6, colour=False)    # the colour layer's smooth field spans the ROI too
    fid = real_codec.decode_frame(p, lv, 6, height=h, width=w)
    assert np.array_equal(fid, real_codec.decode_frame(p, lv, 6, height=h, width=w, realism=0.0))
    r1 = real_codec.decode_frame(p, lv, 6, height=h, width=w, realism=1.0)
    assert np.array_equal(r1, real_codec.decode_frame(p, lv, 6, height=h, width=w, realism=1.0))
    assert not np.array_equal(r1, fid)
    # with a realism synthesis transform the ROI's pixels are the fidelity ones: the blend weight is 0 there
    # (the blend is bilinear, so only the ROI's interior: latent (2..3, 3..4) → pixels 20..27 x 28..35)
    assert np.array_equal(r1[20:28, 28:36], fid[20:28, 28:36])


def test_all_roi_frame_decodes_the_same_in_any_mode(real_codec):
    h, w = 32, 40
    f = _frame(h, w, 1)
    lv = np.full(real_codec.latent_hw(h, w), 15, np.uint8)
    p = real_codec.encode_frame(f, lv, 6)
    assert np.array_equal(real_codec.decode_frame(p, lv, 6, height=h, width=w),
                          real_codec.decode_frame(p, lv, 6, height=h, width=w, realism=1.0))


def test_realism_generator_is_a_function_of_seed_and_frame():
    a = torch.rand(4, generator=realism_generator(3, 7))
    assert torch.equal(a, torch.rand(4, generator=realism_generator(3, 7)))
    assert not torch.equal(a, torch.rand(4, generator=realism_generator(3, 8)))
    assert not torch.equal(a, torch.rand(4, generator=realism_generator(4, 7)))


# ------------------------------------------------------------------------------------------ the colour layer
@pytest.mark.parametrize("hw", [(64, 64), (100, 150), (1, 1), (130, 7)])
def test_colour_layer_round_trip(hw):
    img = _frame(*hw, seed=hw[0])
    target = colour.decode(colour.encode(img), *hw)
    assert target.shape == (*colour.grid_shape(*hw), 3)
    assert np.abs(target - colour.block_means(img)).max() <= colour.STEP / 2 + 1e-9


@pytest.mark.parametrize("start", ["flat", "shifted", "black"])
def test_colour_layer_moves_every_block_within_two_levels(start):
    img = _frame(200, 330, 4)
    rec = {"flat": np.full_like(img, 120), "black": np.zeros_like(img),
           "shifted": np.clip(img.astype(int) + 60, 0, 255).astype(np.uint8)}[start]
    before = np.abs(colour.block_means(rec) - colour.block_means(img)).max()
    out = colour.apply(rec, colour.decode(colour.encode(img), 200, 330))
    assert before > 20
    assert np.abs(colour.block_means(out) - colour.block_means(img)).max() <= 2.0


def test_colour_layer_rejects_damage():
    img = _frame(128, 192)
    data = colour.encode(img)
    with pytest.raises(colour.ColourLayerError):
        colour.decode(data[: len(data) // 2], 128, 192)
    with pytest.raises(colour.ColourLayerError):
        colour.decode(data + b"\x00\x00", 128, 192)
    with pytest.raises(colour.ColourLayerError):
        colour.decode(b"\x00" * 8, 128, 192)                       # an over-long Exp-Golomb prefix


def test_payload_with_and_without_colour_layer(random_codec):
    h, w = 40, 56
    f = _frame(h, w, 2)
    lv = np.full(random_codec.latent_hw(h, w), 3, np.uint8)
    with_layer, plain = random_codec.encode_frame(f, lv, 2), random_codec.encode_frame(f, lv, 2, colour=False)
    assert with_layer[0] & COLOUR_FLAG and not plain[0] & COLOUR_FLAG
    assert len(with_layer) == len(plain) + 2 + len(colour.encode(f))
    assert random_codec.estimate_bits(f, lv, 2) == pytest.approx(8 * len(with_layer), rel=0.05)
    a = random_codec.decode_frame(with_layer, lv, 2, height=h, width=w)
    b = random_codec.decode_frame(plain, lv, 2, height=h, width=w)
    src = colour.block_means(f)
    assert np.abs(colour.block_means(a) - src).max() <= 2.0 < np.abs(colour.block_means(b) - src).max()
    for cut in (5, 7, 9):                                          # inside the colour layer's length or bytes
        with pytest.raises(PayloadError):
            random_codec.decode_frame(with_layer[:cut], lv, 2, height=h, width=w)


def test_stage_realism_trains_and_exports_a_model_on_top_of_its_base(random_weights_dir, tmp_path, monkeypatch):
    """`train --stage realism` then `--export --half`: only g_s_real is stored (float16), the base's modules are
    inherited by hash, the fidelity decode is the base model's, and ρ = 1 decodes through the trained g_s_real."""
    import json
    import shutil

    from PIL import Image

    from rac_video.codec import train

    weights_dir = tmp_path / "weights"
    shutil.copytree(random_weights_dir, weights_dir)
    monkeypatch.setenv("RAC_VIDEO_WEIGHTS", str(weights_dir))
    data = tmp_path / "data"
    data.mkdir()
    for i in range(2):
        Image.fromarray(_frame(136, 144, i)).save(data / f"{i}.png")
    small = tmp_path / "small"
    small.mkdir()
    Image.fromarray(_frame(96, 112)).save(small / "0.png")
    with pytest.raises(FileNotFoundError, match="at least 128"):      # too small to crop: said, not a numpy error
        train.load_images(small)
    run = tmp_path / "run"
    assert train.main(["--stage", "realism", "--realism-base", "rand-a", "--run", str(run), "--data", str(data),
                       "--steps", "2", "--batch", "2", "--crop", "64", "--threads", "1"]) == 0
    assert train.main(["--stage", "realism", "--run", str(run), "--export", str(weights_dir), "--name", "rand-a-real",
                       "--half"]) == 0
    record = json.loads((weights_dir / "rand-a-real.json").read_text())
    base = json.loads((weights_dir / "rand-a.json").read_text())
    assert record["weights_format"] == 2 and record["base"]["sha256"] == base["sha256"]
    assert record["stages"]["stagerealism"]["steps"] == 2 and record["commands"][-1].endswith("--half")
    stored = torch.load(weights_dir / "rand-a-real.pt", weights_only=True)
    assert list(stored) == ["g_s_real"] and all(t.dtype == torch.float16 for t in stored["g_s_real"].values())

    plain, real = Codec("rand-a", steps=1), Codec("rand-a-real", steps=1)
    assert real.g_s_real is not None and plain.g_s_real is None
    for a, b in zip(plain.g_s.state_dict().values(), real.g_s.state_dict().values()):
        assert torch.equal(a, b)
    trained = real.g_s_real.state_dict()
    assert any(not torch.equal(trained[n], t) for n, t in plain.g_s.state_dict().items())   # it did learn
    h, w = 48, 64
    lv = np.zeros(real.latent_hw(h, w), np.uint8)
    p = real.encode_frame(_frame(h, w, 2), lv, 6, colour=False)
    assert p == plain.encode_frame(_frame(h, w, 2), lv, 6, colour=False)        # the bitstream does not change
    fid = real.decode_frame(p, lv, 6, height=h, width=w)
    assert np.array_equal(fid, plain.decode_frame(p, lv, 6, height=h, width=w))
    assert not np.array_equal(real.decode_frame(p, lv, 6, height=h, width=w, realism=1.0),
                              plain.decode_frame(p, lv, 6, height=h, width=w, realism=1.0))


def test_shipped_realism_model_is_v6p_at_rho_zero():
    """rac-tiny-v6p-real: v6p's payload and fidelity pixels; its trained g_s_real only where ρ > 0 and importance < ½."""
    from rac_video.codec import weights

    if "rac-tiny-v6p-real" not in weights.available():
        pytest.skip("shipped weights not installed")
    base, real = Codec("rac-tiny-v6p"), Codec("rac-tiny-v6p-real")
    assert real.g_s_real is not None and real.weights_hash != base.weights_hash
    h, w = 64, 96
    f = _frame(h, w, 4)
    lv = np.zeros(real.latent_hw(h, w), np.uint8)
    lv[:, 6:] = 15                                                   # right half: ROI
    p = real.encode_frame(f, lv, 4, colour=False)     # the colour layer's smooth field spans the ROI too
    assert p == base.encode_frame(f, lv, 4, colour=False)
    fid = real.decode_frame(p, lv, 4, height=h, width=w)
    assert np.array_equal(fid, base.decode_frame(p, lv, 4, height=h, width=w))
    r1 = real.decode_frame(p, lv, 4, height=h, width=w, realism=1.0)
    assert not np.array_equal(r1[:, :40], fid[:, :40])
    assert not np.array_equal(r1[:, :40], base.decode_frame(p, lv, 4, height=h, width=w, realism=1.0)[:, :40])
    assert np.array_equal(r1[:, 56:], fid[:, 56:])                  # the ROI's interior keeps the fidelity pixels
