"""Encode-time latent refinement (rac_video.codec.refine): an encoder-only setting whose payloads the
unchanged decoder reads, which lowers the objective it optimises, and which is off unless asked for."""
import numpy as np
import pytest
import torch

from rac_video import pipeline
from rac_video.codec import decode_image, encode_image, load_model, weights
from rac_video.codec.image import parse_header
from rac_video.codec.model import Codec
from rac_video.codec.refine import MAX_REFINE, check_beta, check_refine, refine_latent
from rac_video.demo import _portrait


@pytest.fixture(scope="module")
def shipped():
    return load_model()


@pytest.fixture(scope="module")
def crop():
    return np.ascontiguousarray(_portrait()[100:228, 200:360])       # 128×160, a face and its surroundings


def _objective(codec, img, data, levels_u8, quality):
    """The real J of a file: every payload bit plus β·Σ (255·err)²/Δ² per pixel (the weights of refine; the crop
    is under 161 pixels a side, so refine runs without its MS-SSIM term, as here)."""
    rec = decode_image(data, model=codec).astype(np.float64)
    H, W = img.shape[:2]
    delta = codec.level_table(quality).delta.numpy().astype(np.float64)[levels_u8]
    w = np.kron(delta ** -2, np.ones((codec.factor, codec.factor)))[:H, :W, None]
    bits = 8 * len(parse_header(data)["payload"])
    return bits + codec.refine_beta * float((w * (rec - img) ** 2).sum())


def test_refined_payload_decodes_and_lowers_the_objective(shipped, crop):
    q = 8
    plain = encode_image(crop, quality=q, model=shipped)
    refined = encode_image(crop, quality=q, model=shipped, refine=40)
    assert refined != plain                                      # it did move the latent
    assert encode_image(crop, quality=q, model=shipped, refine=40) == refined      # deterministic here
    levels = np.full(shipped.latent_hw(*crop.shape[:2]), shipped.levels - 1, np.uint8)
    j0, j1 = (_objective(shipped, crop, d, levels, q) for d in (plain, refined))
    assert j1 < 0.98 * j0, (j0, j1)                              # measured on the real file, not the proxy
    rec = decode_image(refined, model=shipped)                   # the unchanged decoder
    assert rec.shape == crop.shape and rec.dtype == np.uint8


def test_refine_zero_is_the_plain_encoder(shipped, crop):
    assert encode_image(crop, quality=5, model=shipped, refine=0) == encode_image(crop, quality=5, model=shipped)


def test_refine_latent_returns_a_detached_latent_of_the_same_shape(shipped, crop):
    x = shipped.frame_tensor(crop)
    level = shipped.level_map(np.full(shipped.latent_hw(*crop.shape[:2]), 9, np.uint8), *crop.shape[:2])
    y = shipped.analysis(x, level).detach()
    out = refine_latent(shipped, x, y, level, 6, iterations=3, steps=1, height=crop.shape[0], width=crop.shape[1])
    assert out.shape == y.shape and not out.requires_grad and not torch.equal(out, y)
    assert refine_latent(shipped, x, y, level, 6, iterations=0, steps=1) is y


@pytest.mark.parametrize("name", ["rand-a", "rand-ctx"])
def test_refine_with_masked_levels_and_a_context_model(random_weights_dir, monkeypatch, name):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", random_weights_dir)
    codec = Codec(name, steps=1)
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    imp = np.zeros((40, 56), np.float32)
    imp[:, 28:] = 1.0                                            # the left half: level 0, masked
    data = encode_image(img, imp, quality=6, model=codec, masked=1, refine=3)
    rec = decode_image(data, model=codec)
    assert rec.shape == img.shape


@pytest.mark.parametrize("bad", [-1, MAX_REFINE + 1, 1.5, True, "3", None])
def test_bad_refine_settings_are_refused(bad):
    with pytest.raises(ValueError, match="refine"):
        check_refine(bad)


@pytest.mark.parametrize("bad", [0, -1e-3, float("nan"), float("inf")])
def test_bad_beta_is_refused(bad):
    with pytest.raises(ValueError, match="β"):
        check_beta(bad)


def test_pipeline_options_check_refine_and_the_header_records_it(shipped):
    with pytest.raises(ValueError, match="refine"):
        pipeline.EncodeOptions(refine=-2).check()
    hdr = pipeline.header_for(shipped, 64, 64, 30, pipeline.EncodeOptions(refine=25))
    assert hdr.settings["refine"] == 25
