import math

import numpy as np
import pytest
import torch

from rac_video.eval import metrics as M


def _frames(T=2, H=176, W=192, seed=0, noise=6.0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([(xx * 1.3 + yy) % 256, (yy * 2.1) % 256, (xx * 0.7 + 40) % 256], -1)
    src = np.stack([np.roll(base, 3 * t, axis=1) for t in range(T)]).astype(np.float64)
    src += rng.normal(0, 20, src.shape)
    src = np.clip(src, 0, 255).astype(np.uint8)
    rec = np.clip(src + rng.normal(0, noise, src.shape), 0, 255).astype(np.uint8)
    return src, rec


def test_bpp_counts_every_byte():
    assert M.bpp(1000, 10, 20, 40) == pytest.approx(8000 / 8000)
    with pytest.raises(M.MetricError):
        M.bpp(10, 0, 20, 40)


def test_psnr_plain_and_weighted():
    src, rec = _frames()
    err = ((src.astype(float) - rec) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(M.psnr(src, rec), 10 * np.log10(255**2 / err))
    # region PSNR equals PSNR of the cropped region
    mask = np.zeros(src.shape[1:3], bool)
    mask[10:50, 20:90] = True
    crop = M.psnr(src[:, 10:50, 20:90], rec[:, 10:50, 20:90])
    np.testing.assert_allclose(M.psnr(src, rec, mask), crop)
    # empty region -> nan, identical frames -> inf
    assert np.all(np.isnan(M.psnr(src, rec, np.zeros_like(mask))))
    assert np.all(np.isinf(M.psnr(src, src)))


def test_bad_inputs_raise():
    src, rec = _frames()
    with pytest.raises(M.MetricError):
        M.psnr(src, rec[:, :-1])
    with pytest.raises(M.MetricError):
        M.psnr(src.astype(np.float32), rec)
    with pytest.raises(M.MetricError):
        M.psnr(src, rec, np.ones((3, 3)))
    with pytest.raises(M.MetricError):
        M.ms_ssim(src[:, :100], rec[:, :100])


def test_ms_ssim_matches_pytorch_msssim():
    pm = pytest.importorskip("pytorch_msssim")
    src, rec = _frames()
    want = pm.ms_ssim(
        torch.from_numpy(src).permute(0, 3, 1, 2).double(),
        torch.from_numpy(rec).permute(0, 3, 1, 2).double(),
        data_range=255,
        size_average=False,
    ).numpy()
    got = M.ms_ssim(src, rec, dtype=torch.float64)
    # pytorch_msssim builds its window in float32, ours in float64: agreement to ~1e-7
    np.testing.assert_allclose(got, want, rtol=1e-6)
    # float32 path within 1e-5; an all-ones weight map is the plain mean
    np.testing.assert_allclose(M.ms_ssim(src, rec), want, atol=1e-5)
    np.testing.assert_allclose(M.ms_ssim(src, rec, np.ones(src.shape[1:3]), dtype=torch.float64), got, rtol=1e-12)
    # odd sizes (padded pooling) too
    s2, r2 = src[:, :171, :189], rec[:, :171, :189]
    want2 = pm.ms_ssim(
        torch.from_numpy(np.ascontiguousarray(s2)).permute(0, 3, 1, 2).double(),
        torch.from_numpy(np.ascontiguousarray(r2)).permute(0, 3, 1, 2).double(),
        data_range=255,
        size_average=False,
    ).numpy()
    got2 = M.ms_ssim(s2, r2, dtype=torch.float64)
    np.testing.assert_allclose(got2, want2, rtol=1e-6)
    np.testing.assert_allclose(M.ms_ssim(s2, r2, 2.5 * np.ones(s2.shape[1:3]), dtype=torch.float64), got2, rtol=1e-12)


def test_weighted_ms_ssim_sees_the_region():
    src, rec = _frames(noise=1.0)
    H, W = src.shape[1:3]
    bad = rec.copy()
    bad[:, :, W // 2 :] = np.clip(bad[:, :, W // 2 :].astype(int) + np.random.default_rng(1).normal(0, 40, bad[:, :, W // 2 :].shape), 0, 255).astype(np.uint8)
    left = np.zeros((H, W), bool)
    left[:, : W // 2] = True
    r = M.ms_ssim_multi(src, bad, {"all": None, "left": left, "right": ~left})
    assert np.all(r["left"] > r["all"]) and np.all(r["all"] > r["right"])
    assert np.all(r["left"] > 0.97) and np.all(r["right"] < 0.9)


def test_eccentricity_flat_and_display():
    e = M.eccentricity_deg((100, 200), (50.0, 40.0), 10.0)
    assert e[40, 50] == pytest.approx(math.hypot(0.5, 0.5) / 10)
    assert e[40, 150] == pytest.approx(math.hypot(100.5, 0.5) / 10)

    class D:
        width_m, width_px, height_px, distance_m = 0.4, 1280, 720, 0.45

    ppd = M.pixels_per_degree(D, (720, 1280))
    assert ppd == pytest.approx(2 * 0.45 * math.tan(math.radians(0.5)) * 1280 / 0.4)
    # a 416x240 frame is fitted to the 1280x720 screen: 3 screen pixels per frame pixel (height-bound)
    assert M.pixels_per_degree(D, (240, 416)) == pytest.approx(ppd / 3)
    e = M.eccentricity_deg((720, 1280), (640.0, 360.0), D)
    # 10 degrees to the right of the centre, exactly by geometry (within a pixel)
    x1 = 640 + 0.45 * math.tan(math.radians(10)) * 1280 / 0.4
    assert e[360, int(x1)] == pytest.approx(10.0, abs=0.06)
    w = M.foveation_weight((720, 1280), (640.0, 360.0), D)
    assert w.max() <= 1 and w[360, 640] > 0.98 and w[0, 0] < 0.15
    assert np.all(M.foveation_weight((4, 5), (np.nan, np.nan), D) == 1)


def test_eccentricity_agrees_with_the_foveation_model():
    fov = pytest.importorskip("rac_video.importance.foveation")
    d = fov.GAZECOM_DISPLAY
    for hw in [(240, 416), (720, 1280), (480, 854)]:
        assert M.pixels_per_degree(d, hw) == pytest.approx(d.frame_ppd(hw))
        mine = M.eccentricity_deg(hw, (100.0, 60.0), d)
        theirs = fov.eccentricity([(100.0, 60.0)], hw, d, exact=True)[0]
        np.testing.assert_allclose(mine, theirs, atol=1e-6)


def test_flicker():
    src, rec = _frames(T=3)
    f = M.flicker(src[0], src[1], src[0], src[1])
    assert f["rmse"] == 0 and f["ratio"] == pytest.approx(1.0)
    still = M.flicker(src[0], src[1], rec[0], rec[0])  # reconstruction frozen
    assert still["ratio"] == 0 and still["rmse"] > 0
    noisy = M.flicker(src[0], src[0], rec[0], rec[1])  # static source, changing reconstruction
    assert noisy["ratio"] == float("inf") and noisy["rmse"] > 5
    assert math.isnan(M.flicker(src[0], src[1], rec[0], rec[1], np.zeros(src.shape[1:3], bool))["rmse"])


def test_sequence_metrics_keys_and_consistency():
    src, rec = _frames(T=3)
    H, W = src.shape[1:3]
    imp = np.zeros((H, W), np.float32)
    imp[40:120, 50:150] = 1.0
    out = M.sequence_metrics(src, rec, total_bytes=1234, importance=imp, fixations=None, display=8.0)
    s = out["summary"]
    assert s["bpp"] == pytest.approx(1234 * 8 / (3 * H * W))
    assert len(out["frames"]) == 3 and out["frames"][0]["flicker_bg_rmse"] is None
    for k in M.PER_FRAME_KEYS:
        assert s[k] is not None and math.isfinite(s[k]), k
    assert s["psnr"] == pytest.approx(float(np.mean(M.psnr(src, rec))))
    assert s["roi_share"] == pytest.approx(imp.mean())
    # no importance / display: region and foveated metrics absent
    same = M.sequence_metrics(src, src, total_bytes=1)["summary"]
    assert same["psnr"] == M.PSNR_CAP and same["ms_ssim"] == pytest.approx(1.0)
    s2 = M.sequence_metrics(src, rec, total_bytes=1)["summary"]
    assert s2["psnr_roi"] is None and s2["ms_ssim_fov"] is None and s2["ms_ssim"] == pytest.approx(s["ms_ssim"])


def test_fovvideovdp_optional():
    pytest.importorskip("pyfvvdp")
    src, rec = _frames(T=4, H=96, W=128)
    fix = np.tile([[64.0, 48.0]], (4, 1))
    fix[1] = np.nan
    r = M.fovvideovdp(src, rec, fps=25, fixations=fix, display=8.0)
    assert 0 < r["jod"] <= 10.5 and r["version"]
    same = M.fovvideovdp(src, src, fps=25)
    assert same["jod"] > r["jod"]
