"""Realism metrics (rac_video.eval.realism): patch SWD, high-frequency ratio, block colour error, per region."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rac_video.eval import realism as R


def _texture(seed, h=128, w=128, smooth=1.5, scale=30):
    """A stationary random texture: low-passed coloured noise around mid-grey (no clipping)."""
    g = np.random.default_rng(seed)
    x = torch.from_numpy(g.standard_normal((1, 3, h, w)))
    x = _blur_t(x, smooth)
    x = x / x.std() * scale + 120
    return x[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _blur_t(x, sigma):
    r = int(3 * sigma) + 1
    k = torch.exp(-torch.arange(-r, r + 1, dtype=torch.float64) ** 2 / (2 * sigma * sigma))
    k = (k / k.sum()).to(x.dtype)
    x = F.pad(x, (r, r, r, r), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(3, 1, 1, 1), groups=3)
    return F.conv2d(x, k.view(1, 1, -1, 1).repeat(3, 1, 1, 1), groups=3)


def _blur(img, sigma):
    x = torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1)[None]
    return _blur_t(x, sigma)[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def _noise(img, sigma, seed=1):
    n = np.random.default_rng(seed).normal(0, sigma, img.shape)
    return np.clip(img + n, 0, 255).round().astype(np.uint8)


def _psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_identical_is_zero_everywhere():
    img = _texture(0)
    imp = np.zeros(img.shape[:2], np.float32)
    imp[:, :64] = 1
    rep = R.region_report(img, img, imp)
    for reg in R.REGIONS:
        assert rep[reg]["swd"] == 0.0
        assert all(v == 0.0 for v in rep[reg]["swd_levels"])
        assert rep[reg]["hf_ratio"] == 1.0
        assert rep[reg]["block_colour_max"] == 0.0 and rep[reg]["block_colour_mean"] == 0.0


def test_blur_increases_swd_and_removes_high_frequencies():
    img = _texture(0, smooth=1.0)
    swd, hf = [], []
    for s in (0.7, 1.5, 3.0):
        rep = R.region_report(img, _blur(img, s))["all"]
        swd.append(rep["swd"])
        hf.append(rep["hf_ratio"])
    assert 0 < swd[0] < swd[1] < swd[2]
    assert 1 > hf[0] > hf[1] > hf[2]
    assert hf[2] < 0.1


def test_noise_adds_high_frequencies_blur_removes_them():
    img = _texture(0, smooth=1.0)
    n5, n20 = (R.region_report(img, _noise(img, s))["all"] for s in (5, 20))
    b = R.region_report(img, _blur(img, 1.5))["all"]
    assert 1 < n5["hf_ratio"] < n20["hf_ratio"]
    assert b["hf_ratio"] < 1
    assert 0 < n5["swd"] < n20["swd"]
    # zero-mean noise leaves every block's mean colour nearly where it was; a blur does too
    assert n5["block_colour_max"] < 1.5 and b["block_colour_max"] < 1.5


def test_plausible_texture_beats_blur_although_its_psnr_is_far_worse():
    """The point of a distribution metric: another sample of the same texture scores close to the source,
    a blur of the source itself does not, while PSNR ranks them the other way round."""
    a, other = _texture(0, smooth=1.0), _texture(7, smooth=1.0)
    blurred = _blur(a, 2.0)
    assert _psnr(a, other) < _psnr(a, blurred) - 5
    s_other = R.region_report(a, other)["all"]
    s_blur = R.region_report(a, blurred)["all"]
    assert s_other["swd"] < 0.5 * s_blur["swd"]
    assert abs(s_other["hf_ratio"] - 1) < 0.15 < abs(s_blur["hf_ratio"] - 1)


def test_known_colour_shift_gives_known_block_error():
    img = _texture(0, h=100, w=150, scale=15)   # 2 x 3 blocks, the edge ones partial; values stay inside 0..255
    assert img.min() > 20 and img.max() < 235
    shifted = img.astype(np.int16)
    shifted[..., 0] += 10
    shifted[..., 2] -= 4
    rep = R.region_report(img, shifted.astype(np.uint8))["all"]
    assert rep["block_colour_max"] == pytest.approx(10.0) and rep["block_colour_mean"] == pytest.approx(10.0)
    # one block (the partial bottom-right one) off by 139 levels in green, the other five untouched
    one = img.astype(np.int16)
    one[64:, 128:, 1] = np.clip(one[64:, 128:, 1] + 139, 0, 255)
    err = (one[64:, 128:, 1] - img[64:, 128:, 1].astype(np.int16)).mean()
    rep = R.region_report(img, one.astype(np.uint8))["all"]
    assert rep["block_colour_max"] == pytest.approx(err)
    assert rep["block_colour_mean"] == pytest.approx(err / 6)
    errs, counts = R.block_colour_errors(img[None], one[None].astype(np.uint8))
    assert errs.shape == (1, 2, 3) and counts[0].tolist() == [[4096, 4096, 64 * 22], [36 * 64, 36 * 64, 36 * 22]]


def test_regions_select_what_they_should():
    img = _texture(3, h=128, w=256)
    imp = np.zeros((128, 256), np.float32)
    imp[:, :128] = 1.0                       # ROI: the left half (two 64-px block columns)
    rec = img.copy()
    rec[:, 160:] = _blur(img, 3.0)[:, 160:]  # the background blurred, 32 px away from the border
    rec[:, 192:, 0] = np.clip(rec[:, 192:, 0].astype(int) + 20, 0, 255)   # and the right block column tinted
    rep = R.region_report(img, rec, imp)
    assert rep["roi"]["share"] == 0.5 and rep["bg"]["share"] == 0.5
    assert rep["roi"]["block_colour_max"] == 0.0 and rep["bg"]["block_colour_max"] > 15
    assert rep["roi"]["hf_ratio"] == pytest.approx(1.0, abs=0.01) and rep["bg"]["hf_ratio"] < 0.6
    assert rep["roi"]["swd"] < 0.2 * rep["bg"]["swd"]
    # every neighbourhood centre counted once: ROI + background = all (no sampling cap here)
    full = R.region_report(img, rec, imp, max_patches=10 ** 6)
    for lv in range(full["levels"]):
        assert full["roi"]["patches"][lv] + full["bg"]["patches"][lv] == full["all"]["patches"][lv]
    assert full["roi"]["patches"][0] == 128 * 128
    # the threshold moves the border: with importance 0.4 on the left, the ROI is empty at 0.5
    weak = R.region_report(img, rec, imp * 0.4, threshold=0.5)
    assert weak["roi"]["swd"] is None and weak["roi"]["block_colour_max"] is None and weak["roi"]["share"] == 0
    assert weak["bg"]["swd"] == pytest.approx(full["all"]["swd"], rel=0.25)


def test_deterministic_and_clips():
    img = _texture(0)
    rec = _noise(_blur(img, 1.0), 3)
    a, b = R.region_report(img, rec), R.region_report(img.copy(), rec.copy())
    assert a == b
    clip = np.stack([img, _texture(1)])
    rclip = np.stack([rec, _blur(clip[1], 1.0)])
    rep = R.region_report(clip, rclip, np.ones((2, 128, 128), np.float32))
    assert rep["bg"]["swd"] is None and rep["roi"]["swd"] > 0
    flat = R.flat_metrics(rep)
    assert set(flat) == set(R.FLAT_KEYS) and flat["swd_roi"] == rep["roi"]["swd"]


def test_bad_input():
    img = _texture(0)
    with pytest.raises(R.RealismError, match="differ in shape"):
        R.region_report(img, img[:64])
    with pytest.raises(R.RealismError, match="uint8"):
        R.region_report(img.astype(np.float32), img)
    with pytest.raises(R.RealismError, match="threshold"):
        R.region_report(img, img, threshold=0)
    with pytest.raises(R.RealismError, match="importance"):
        R.region_report(img, img, np.ones((10, 10)))
    with pytest.raises(R.RealismError, match="too small"):
        R.region_report(img[:8, :8], img[:8, :8])
