import math

import numpy as np
import pytest

from rac_video.eval import baselines as B
from rac_video.eval import metrics as M
from rac_video.eval.matching import MatchError, match_baseline, match_size


def _clip(T=4, H=64, W=96, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([128 + 60 * np.sin(xx / 5.0), 128 + 60 * np.cos(yy / 7.0), (xx + yy) % 256], -1)
    frames = np.stack([np.roll(base, 2 * t, axis=1) + rng.normal(0, 3, base.shape) for t in range(T)])
    return np.clip(frames, 0, 255).astype(np.uint8)


def _importance(H=64, W=96):
    imp = np.zeros((H, W), np.float32)
    imp[:, : W // 2] = 1.0
    return imp


def test_roi_offsets_and_regions_cover_the_map():
    H, W = 50, 70  # not multiples of 16: edge blocks are partial
    rng = np.random.default_rng(3)
    imp = rng.random((H, W)).astype(np.float32)
    off = B.roi_offsets(imp, strength=10)
    assert off.shape == (4, 5) and off.dtype == np.int32
    assert np.all(np.abs(off) <= 5)
    assert off[0, 0] == round(10 * (0.5 - imp[:16, :16].mean()))
    painted = np.zeros((H, W), np.int32)
    covered = np.zeros((H, W), np.int32)
    for x, y, w, h, v in B.roi_regions(off, (H, W)):
        assert w > 0 and h > 0 and x + w <= W and y + h <= H
        painted[y : y + h, x : x + w] = v
        covered[y : y + h, x : x + w] += 1
    assert covered.max() <= 1  # no overlaps
    want = np.kron(off, np.ones((16, 16), np.int32))[:H, :W]
    np.testing.assert_array_equal(painted, want)
    # a constant map merges into one rectangle (or none when the offset is 0)
    assert len(B.roi_regions(B.roi_offsets(np.zeros((H, W)), 12), (H, W))) == 1
    assert B.roi_regions(B.roi_offsets(np.full((H, W), 0.5), 12), (H, W)) == []


@pytest.mark.parametrize("name", ["x264", "x264-intra", "x265", "jpeg"])
def test_baselines_roundtrip(name):
    frames = _clip()
    b = B.make_baseline(name)
    e = b.encode(frames, None, b.start)
    rec = e.decode()
    assert rec.shape == frames.shape and rec.dtype == np.uint8
    assert e.nbytes > 100
    assert M.psnr(frames, rec).mean() > 25
    finer = b.encode(frames, None, b.start + (-10 if b.decreasing else 30))
    assert finer.nbytes > e.nbytes
    assert M.psnr(frames, finer.decode()).mean() > M.psnr(frames, rec).mean()


@pytest.mark.parametrize("name", ["x264-roi", "x264-intra-roi", "x265-roi"])
def test_roi_moves_quality_into_the_region(name):
    frames = _clip(H=128, W=192)
    imp = _importance(128, 192)
    plain = B.make_baseline(name.replace("-roi", "")).encode(frames, None, 30).decode()
    roi = B.make_baseline(name, roi_strength=16).encode(frames, imp, 30).decode()
    left = imp > 0.5
    gain_in = M.psnr(frames, roi, left).mean() - M.psnr(frames, plain, left).mean()
    gain_out = M.psnr(frames, roi, ~left).mean() - M.psnr(frames, plain, ~left).mean()
    assert gain_in > 0.7 and gain_out < -0.7, (gain_in, gain_out)


def test_svtav1_intra_if_available():
    import av

    if "libsvtav1" not in av.codecs_available:
        pytest.skip("no libsvtav1 in this PyAV")
    frames = _clip(T=2)
    rec = B.make_baseline("svtav1-intra").encode(frames, None, 30).decode()
    assert M.psnr(frames, rec).mean() > 25
    with pytest.raises(B.BaselineError):
        B.make_baseline("svtav1-roi")


def test_jpeg_fractional_quality_mixes_two_qualities():
    qs = B.JpegBaseline.qualities(20.25, 8)
    assert sorted(set(qs)) == [20, 21] and qs.count(21) == 2
    assert B.JpegBaseline.qualities(30, 5) == [30] * 5 and B.JpegBaseline.qualities(95, 2) == [95, 95]
    frames = _clip()
    b = B.make_baseline("jpeg")
    s = [b.encode(frames, None, p).nbytes for p in (20, 20.5, 21)]
    assert s[0] < s[1] < s[2]
    with pytest.raises(B.BaselineError):
        b.encode(frames, None, 0.5)


def test_bad_inputs():
    with pytest.raises(B.BaselineError):
        B.make_baseline("x266")
    with pytest.raises(B.BaselineError):
        B.make_baseline("x264-foo")
    b = B.make_baseline("x264-roi")
    with pytest.raises(B.BaselineError):
        b.encode(_clip(), None, 30)  # ROI without a map
    with pytest.raises(B.BaselineError):
        b.encode(_clip()[:, :63], np.zeros((63, 96)), 30)  # odd height
    with pytest.raises(B.BaselineError):
        B.make_baseline("jpeg").encode(_clip().astype(np.float32))


class _Fake:
    """size = 1e5 * 2^(-p/6) (a CRF-like law), optionally integer-stepped."""

    def __init__(self, p):
        self.param = p
        self.nbytes = int(1e5 * 2 ** (-p / 6))


def test_match_size_continuous_and_integer():
    r = match_size(_Fake, 20000, lo=0, hi=51, start=28)
    assert r.matched and abs(r.rel_error) <= 0.02 and len(r.evals) <= 8
    r = match_size(_Fake, 20000, lo=0, hi=51, start=28, integer=True)
    assert float(r.encoded.param).is_integer()
    assert abs(r.rel_error) < 0.07  # integer steps are ~12 % apart: the closest one
    # out of range: the end of the range, not matched
    r = match_size(_Fake, 10, lo=0, hi=51, start=28)
    assert not r.matched and r.encoded.param == 51
    with pytest.raises(MatchError):
        match_size(_Fake, 0, lo=0, hi=51, start=28)


def test_match_size_increasing_parameter():
    class Q:
        def __init__(self, q):
            self.param = q
            self.nbytes = int(1000 * math.exp(q / 20))

    r = match_size(Q, 5000, lo=1, hi=95, start=50, decreasing=False, integer=True)
    assert abs(r.rel_error) < 0.03 and r.encoded.param == round(20 * math.log(5))


def test_match_baseline_x264_within_2_percent():
    frames = _clip()
    b = B.make_baseline("x264-roi")
    imp = _importance()
    target = b.encode(frames, imp, 24.3).nbytes
    r = match_baseline(b, frames, imp, int(target * 1.1))
    assert r.matched, r.record()
    assert abs(r.encoded.nbytes / (target * 1.1) - 1) <= 0.02
