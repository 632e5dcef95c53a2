import math

import numpy as np
import pytest

from rac_video.codec.model import PayloadError
from rac_video.stream.codecs import JpegStandIn, open_codec
from rac_video.stream.sources import ClipSource, SyntheticSource
from rac_video.stream.stats import FrameRecord, StreamStats


def test_jpeg_standin_roundtrip_and_levels():
    c = JpegStandIn()
    f = SyntheticSource(64, 48).frame(3)
    hi = np.full(c.latent_hw(48, 64), 15, np.uint8)
    lo = np.zeros_like(hi)
    big, small = c.encode_frame(f, hi, 10), c.encode_frame(f, lo, 10)
    assert len(small) < len(big)                        # fewer important cells, fewer bits
    assert c.rate_function(f, hi)(10) == 8 * len(big)   # the rate function is exact
    out = c.decode_frame(big, hi, 10, height=48, width=64)
    assert out.shape == (48, 64, 3) and np.abs(out.astype(int) - f).mean() < 12
    with pytest.raises(PayloadError):
        c.decode_frame(b"garbage", hi, 10, height=48, width=64)
    with pytest.raises(PayloadError):
        c.decode_frame(big, hi, 10, height=40, width=64)   # size mismatch
    with pytest.raises(ValueError):
        c.encode_frame(f, hi, 16)
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
