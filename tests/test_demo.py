"""rac-video demo: viewing geometry, per-region bits, equal-quality interpolation, the pictures, and the
whole command on a few frames with a random model."""
import json
import math

import numpy as np
import pytest

from rac_video import demo
from rac_video.cli import main
from rac_video.eval import sidebyside as sbs




def test_display_puts_the_fovea_on_a_small_part_of_the_frame():
    from rac_video.importance.foveation import importance_map

    H, W = demo.DEMO_SIZE
    d = demo.demo_display()
    assert 60 < d.ppd < 75                       # 27-inch 4K at 0.6 m, 1:1 pixels
    thr = demo.fovea_threshold(d)
    m = importance_map([(W / 2, H / 2)], (H, W), d)
    inside = m >= thr
    ys, xs = np.nonzero(inside)
    radius = np.hypot(xs + 0.5 - W / 2, ys + 0.5 - H / 2).max()
    assert abs(radius - demo.FOVEA_DEG * d.ppd) < 2        # the disc of FOVEA_DEG degrees
    assert inside.mean() < 0.3 < (m >= 0.5).mean() < 1.0


def test_rate_at_quality_interpolates_log_size_and_never_extrapolates():
    pts = [(100.0, 30.0), (400.0, 34.0)]
    size, how = demo.rate_at_quality(pts, 32.0)
    assert how == "interpolated" and size == pytest.approx(200.0)
    assert demo.rate_at_quality(pts, 30.0) == (pytest.approx(100.0), "interpolated")
    assert demo.rate_at_quality(pts, 35.0) == (None, "below")
    assert demo.rate_at_quality(pts, 29.0) == (None, "above")
    # a non-monotone curve: the smallest size that reaches the target
    size, _ = demo.rate_at_quality([(100.0, 30.0), (200.0, 33.0), (400.0, 32.0), (800.0, 36.0)], 32.5)
    assert size == pytest.approx(100 * 2 ** (2.5 / 3))


def test_bit_map_accounts_for_the_payload_and_follows_the_levels(random_codec):
    rng = np.random.default_rng(1)
    H, W = 64, 96
    frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    lv = np.zeros(random_codec.latent_hw(H, W), np.uint8)
    lv[:, : lv.shape[1] // 2] = random_codec.levels - 1           # left half important
    bm = demo.bit_map(random_codec, frame, lv, 8)
    assert bm.shape == (H, W) and (bm >= 0).all()
    est = random_codec.estimate_bits(frame, lv, 8)
    assert 0.8 * est < bm.sum() <= est                # everything but stream framing (64x96 needs no padding)
    assert bm[:, : W // 2].sum() > 1.5 * bm[:, W // 2:].sum()


def test_periphery_box_avoids_the_fovea_and_picks_detail():
    H, W = 120, 200
    src = np.full((H, W, 3), 128, np.uint8)
    src[10:50, 150:190] = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)  # texture
    src[60:100, 10:50] = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)   # texture
    imp = np.full((H, W), 0.1, np.float32)
    imp[50:120, 0:70] = 1.0                                             # the fovea covers the second patch
    x0, y0, x1, y1 = sbs.periphery_box(src, imp, 32)
    assert x1 - x0 == 32 and imp[y0:y1, x0:x1].max() < 0.5
    assert x0 >= 140 and y1 <= 60                                       # on the textured patch
    assert sbs.crop_box((5, 5), 32, (H, W)) == (0, 0, 32, 32)
    assert sbs.crop_box((199, 119), 32, (H, W)) == (168, 88, 200, 120)


def test_annotate_draws_text_and_gaze_without_touching_the_input():
    panel = np.zeros((100, 160, 3), np.uint8)
    out = sbs.annotate(panel, ["label"], gaze=(80, 60), radius_px=20)
    assert panel.max() == 0 and out.shape == panel.shape
    assert out[:20, :60].max() > 200                                   # white text on the band
    assert out[60, 60:100].max() > 0 and out[40, 80].max() > 0         # cross and circle
    same = sbs.annotate(panel, [], gaze=(np.nan, np.nan), radius_px=20)
    assert same.max() == 0


def test_demo_command_compares_codings_at_equal_bytes(tmp_path, weights_env, capsys):
    import torch

    out = tmp_path / "demo"
    threads = torch.get_num_threads()
    assert main(["demo", "-o", str(out), "--frames", "2", "--model", "rand-a", "--steps", "0", "--json"]) == 0
    assert torch.get_num_threads() == threads                          # --threads 1 only while it runs
    rep = json.loads(capsys.readouterr().out)
    assert rep["torch_threads"] == 1
    reg = rep["regions"]
    assert 0 < reg["fovea_share"] < reg["roi_share"] <= 1
    c = rep["codings"]
    assert set(c) == {"gaze", "uniform", "x264_roi"}
    g = c["gaze"]["bytes"]
    for k in ("uniform", "x264_roi"):
        assert abs(c[k]["bytes"] / g - 1) < 0.25, (k, c[k]["bytes"], g)   # rate-matched (loose: 2 frames)
        for q in ("psnr_fovea", "psnr_periphery", "ms_ssim_fovea", "ms_ssim_periphery"):
            assert c[k]["quality"][q] is not None
        assert len(c[k]["frame_kbps"]) == 2
    b = c["gaze"]["bits"]                            # payload split by region + framing = every packet byte
    total = (b["fovea_kbps"] + b["periphery_kbps"] + b["side_info_and_headers_kbps"]) * 1000 * 2 / demo.DEMO_FPS
    assert total == pytest.approx(8 * sum(f["bytes"] for f in rep["per_frame"]))
    assert c["uniform"]["bits"]["periphery_kbps"] > 0 and c["x264_roi"]["bits"] is None
    eq = rep["equal_fovea"]
    assert eq["psnr"]["how"] in ("interpolated", "below", "above", "no points")
    if eq["psnr"]["saving"] is not None:
        assert math.isfinite(eq["psnr"]["saving"])
    from PIL import Image

    with Image.open(out / "demo_frame.png") as im:
        assert im.size[0] >= 4 * 288
    import av

    with av.open(str(out / "demo_sidebyside.mp4")) as f:
        s = f.streams.video[0]
        assert (s.width, s.height) == (2 * demo.DEMO_SIZE[1], 2 * demo.DEMO_SIZE[0])
        assert sum(1 for _ in f.decode(s)) == 2
    assert json.loads((out / "report.json").read_text())["codings"]["gaze"]["bytes"] == g
