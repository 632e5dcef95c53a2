import math

import numpy as np
import pytest

from rac_video.stream.codecs import JpegStandIn, RateController, open_codec
from rac_video.stream.sources import ClipSource, SyntheticSource
from rac_video.stream.stats import FrameRecord, StreamStats


def test_jpeg_standin_roundtrip_and_levels():
    c = JpegStandIn()
    f = SyntheticSource(64, 48).frame(3)
    hi = np.full(c.latent_hw(48, 64), 15, np.uint8)
    lo = np.zeros_like(hi)
    big, small = c.encode(f, hi, 10, 0), c.encode(f, lo, 10, 0)
    assert len(small) < len(big)                        # fewer important cells, fewer bits
    out = c.decode(big, hi, 10, 0, 48, 64)
    assert out.shape == (48, 64, 3) and np.abs(out.astype(int) - f).mean() < 12
    with pytest.raises(ValueError):
        c.decode(b"garbage", hi, 10, 0, 48, 64)
    with pytest.raises(ValueError):
        c.decode(big, hi, 10, 0, 40, 64)                # size mismatch
    with pytest.raises(ValueError):
        c.encode(f, hi, 16, 0)
    with pytest.raises(ValueError):
        open_codec("nope")


def test_synthetic_source_moves():
    s = SyntheticSource(416, 240, 50)
    a, b = s.frame(0), s.frame(1)
    assert a.shape == (240, 416, 3) and a.dtype == np.uint8 and not np.array_equal(a, b)
    assert np.array_equal(s.frame(7), s.frame(7))


def test_clip_source_folder(tmp_path):
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((20, 30, 3), i * 50, np.uint8)).save(tmp_path / f"{i:03d}.png")
    s = ClipSource(str(tmp_path), fps=25)
    assert (s.width, s.height, s.fps) == (30, 20, 25.0)
    assert s.frame(4)[0, 0, 0] == 50                    # loops
    with pytest.raises(FileNotFoundError):
        ClipSource(str(tmp_path / "none_here"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError):
        ClipSource(str(tmp_path / "empty"))


def _size_model(q):      # bytes per frame roughly doubling every 3 quality steps
    return 2000 * 2 ** (q / 3)


@pytest.mark.parametrize("target_kbps", [800, 2500])
def test_rate_controller_converges(target_kbps):
    rc = RateController(target_kbps * 1e3, 50, q0=15)
    sizes = []
    for _ in range(300):
        q = rc.quality()
        n = _size_model(q)
        rc.update(int(n), q)
        sizes.append(n)
    rate = np.mean(sizes[-100:]) * 8 * 50 / 1e3
    assert abs(rate - target_kbps) / target_kbps < 0.25


def test_rate_controller_fixed_quality():
    rc = RateController(0, 50, q0=6)
    rc.update(10 ** 6, 6)
    assert rc.quality() == 6


def _rec(i, cap, disp, gseq, garr):
    r = FrameRecord(i, 8, 1000, 39, gseq, cap, cap + .001, cap + .002, cap + .003, cap + .004, cap + .005,
                    garr, garr - .001, cap + .006, cap + .007, cap + .008)
    return r


def test_stats_gaze_to_display_counts_first_use_only(tmp_path):
    st = StreamStats()
    recs = [_rec(0, 0.0, 0.01, 1, -0.005), _rec(1, 0.02, 0.03, 1, -0.005), _rec(2, 0.04, 0.05, 2, 0.035)]
    for r, d in zip(recs, (0.01, 0.03, 0.05)):
        st.add(r)
        st.displayed(r, d)
    assert len(st.gaze_to_display) == 2
    assert st.gaze_to_display[0] == pytest.approx(0.015) and st.gaze_to_display[1] == pytest.approx(0.015)
    s = st.summary()
    assert s["latency_ms"]["end_to_end"]["median"] == pytest.approx(10.0)
    assert s["frames"]["displayed"] == 3
    st.write_csv(tmp_path / "f.csv")
    assert len((tmp_path / "f.csv").read_text().splitlines()) == 4
    st.plot(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000
    assert math.isnan(FrameRecord(0, 0, 0, 0, 0, *[0.0] * 9).display)
