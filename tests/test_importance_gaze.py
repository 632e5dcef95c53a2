"""Gaze readers and per-frame aggregation (rac_video.importance.gaze)."""
import glob
import math
import os

import numpy as np
import pytest

from rac_video.importance import gaze


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


COORD = "gaze 1280 720\ngeometry distance 0.45 width 0.4 height 0.225\n"


def test_gazecom_synthetic_flip_and_validity(tmp_path):
    rows = [(1000, 100.0, 700.0, 1), (5000, 102.0, 698.0, 1), (9000, 0.0, 0.0, 0), (13000, 2000.0, 10.0, 1),
            (17000, 640.0, 360.0, 1)]
    p = _write(tmp_path, "a.coord", COORD + "".join(f"{a} {b} {c} {d}\n" for a, b, c, d in rows))
    tr = gaze.read_gaze(p)
    assert tr.fmt == "gazecom" and len(tr) == 5
    assert np.allclose(tr.t, [0.001, 0.005, 0.009, 0.013, 0.017])
    assert np.allclose(tr.y[:2], [20.0, 22.0])  # y up -> flipped to top-left origin
    assert tr.valid.tolist() == [True, True, False, False, True]  # confidence 0, off-screen
    assert tr.display.ppd == pytest.approx(25.133, abs=1e-3)
    assert tr.width_m == 0.4 and tr.distance_m == 0.45 and tr.height_m == 0.225
    raw = gaze.read_gaze(p, y_up=False)
    assert np.allclose(raw.y[:2], [700.0, 698.0])


@pytest.mark.parametrize("text,msg", [
    ("gaze 1280\ngeometry distance 0.45 width 0.4\n1 2 3 1\n", "gaze W H"),
    ("gaze a b\ngeometry distance 0.45 width 0.4\n1 2 3 1\n", "screen size"),
    ("gaze 1280 720\ngeom distance 0.45 width 0.4\n1 2 3 1\n", "geometry"),
    ("gaze 1280 720\ngeometry distance 0.45\n1 2 3 1\n", "geometry"),
    ("gaze 1280 720\ngeometry distance -1 width 0.4\n1 2 3 1\n", "distance"),
    (COORD + "1000 2 3\n", "columns"),
    (COORD + "1000 2 3 1\n5000 2 x 1\n", "not a number"),
    (COORD + "1000 2 3 1\n5000 2 3 1 7\n", "columns"),
    (COORD + "5000 2 3 1\n1000 2 3 1\n", "backwards"),
    (COORD, "too short"),
    (COORD + "\n\n", "no samples"),
])
def test_gazecom_malformed(tmp_path, text, msg):
    p = _write(tmp_path, "bad.coord", text)
    with pytest.raises(gaze.GazeError, match=msg):
        gaze.read_gaze(p)


def _diem_row(i, lx, ly, le, rx, ry, re_):
    return f"{i}\t{lx}\t{ly}\t1500.0\t{le}\t{rx}\t{ry}\t1700.0\t{re_}\r\n"


def test_diem_synthetic(tmp_path):
    text = (_diem_row(1, 100, 200, 1, 110, 210, 1) + _diem_row(2, 0, 0, 0, 0, 0, 0) +
            _diem_row(3, 300, 300, 2, 320, 300, 1) + _diem_row(4, 50, 900, 1, 60, 100, 1) +
            _diem_row(5, 1, 1, -1, 2, 2, -1))
    p = _write(tmp_path, "diem5s01.asc_15_movie_640x480.txt", text)
    tr = gaze.read_gaze(p)
    assert tr.fmt == "diem" and (tr.width_px, tr.height_px) == (640, 480)
    assert np.allclose(tr.t, np.arange(5) / 30)
    assert tr.valid.tolist() == [True, False, True, True, False]
    assert tr.x[0] == pytest.approx(105) and tr.y[0] == pytest.approx(205)
    assert tr.x[3] == pytest.approx(60) and tr.y[3] == pytest.approx(100)  # left eye off-screen: right only
    assert tr.events.tolist() == [1, 0, 2, 1, -1]
    assert tr.extra["left_event"].tolist() == [1, 0, 2, 1, -1]
    pf = tr.per_frame(30, 5, (640, 480))
    assert np.isnan(pf[1]).all() and np.allclose(pf[2], [310, 300])


@pytest.mark.parametrize("row", ["1\t2\t3\t4\t5\t6\t7\t8\n", "1\t2\t3\t4\t7\t6\t7\t8\t1\n",
                                 "1.5\t2\t3\t4\t1\t6\t7\t8\t1\n", "1\t2\tq\t4\t1\t6\t7\t8\t1\n"])
def test_diem_malformed(tmp_path, row):
    p = _write(tmp_path, "x_100x100.txt", row)
    with pytest.raises(gaze.GazeError):
        gaze.read_gaze(p, fmt="diem")


def test_csv_variants(tmp_path):
    p = _write(tmp_path, "g.csv", "# comment\ntime,x,y,valid\n0,0.5,0.5,1\n10,0.25,0.75,1\n20,0.1,0.1,0\n")
    tr = gaze.read_gaze(p, time_unit="ms", coords="norm", origin="bottom-left", screen_wh=(200, 100))
    assert np.allclose(tr.t, [0, 0.01, 0.02])
    assert np.allclose(tr.x, [100, 50, 20]) and np.allclose(tr.y, [50, 25, 90])
    assert tr.valid.tolist() == [True, True, False]
    p2 = _write(tmp_path, "g.tsv", "T\tX\tY\n0\t-10\t5\n1\t0\t0\n")
    tr2 = gaze.read_gaze(p2, origin="center", screen_wh=(200, 100))
    assert np.allclose(tr2.x, [90, 100]) and np.allclose(tr2.y, [55, 50]) and tr2.valid.all()
    p3 = _write(tmp_path, "g.txt", "t x y\n0 1 2\n1 3 4\n")
    tr3 = gaze.read_gaze(p3)
    assert tr3.width_px is None and np.allclose(tr3.x, [1, 3])
    assert np.allclose(tr3.per_frame(1, 2, (50, 50)), [[1, 2], [3, 4]])  # unknown space: unscaled


@pytest.mark.parametrize("text,kw,msg", [
    ("a,b,c\n1,2,3\n", {}, "missing"),
    ("t,x,y\n1,2\n", {}, "fields"),
    ("t,x,y\n1,2,zz\n", {}, "not a number"),
    ("t,x,y\n", {}, "no samples"),
    ("t,x,y\n1,2,3\n", {"coords": "norm"}, "screen_wh"),
    ("t,x,y\n1,2,3\n", {"time_unit": "min"}, "time_unit"),
    ("t,x,y\n1,2,3\n", {"origin": "top"}, "origin"),
    ("t,x,y\n2,2,3\n1,2,3\n", {}, "backwards"),
])
def test_csv_malformed(tmp_path, text, kw, msg):
    p = _write(tmp_path, "g.csv", text)
    with pytest.raises(gaze.GazeError, match=msg):
        gaze.read_gaze(p, **kw)


def test_missing_file_and_bad_format(tmp_path):
    with pytest.raises(gaze.GazeError):
        gaze.read_gaze(str(tmp_path / "none.coord"))
    with pytest.raises(gaze.GazeError):
        gaze.read_gaze(__file__, fmt="eyelink")
    b = tmp_path / "bin.csv"
    b.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(gaze.GazeError):
        gaze.read_gaze(str(b))


def _trace(t, x, y, valid=None, wh=(100, 100)):
    t = np.asarray(t, float)
    return gaze.GazeTrace(t, np.asarray(x, float), np.asarray(y, float),
                          np.ones(len(t), bool) if valid is None else np.asarray(valid, bool), wh[0], wh[1])


def test_per_frame_median_hold_and_flags():
    # 250 Hz samples; frames at 10 fps: 25 samples per frame
    t = np.arange(100) / 250
    x = np.where(t < 0.1, 10.0, 50.0)
    x[3] = 1000.0  # an outlier inside frame 0: the median ignores it
    y = np.full(100, 20.0)
    valid = np.ones(100, bool)
    valid[(t >= 0.2) & (t < 0.4)] = False  # frames 2 and 3 have no valid sample
    tr = _trace(t, x, y, valid, wh=(200, 100))
    pts = tr.per_frame(10, 6, (400, 50))  # scale x2 in x, /2 in y
    assert np.allclose(pts[0], [20, 10]) and np.allclose(pts[1], [100, 10])
    assert np.isnan(pts[2:]).all()
    pts, fl = tr.per_frame(10, 6, (400, 50), hold_s=0.1, return_flags=True)
    assert fl.tolist() == [gaze.MEASURED, gaze.MEASURED, gaze.HELD, gaze.MISSING, gaze.MISSING, gaze.MISSING]
    assert np.allclose(pts[2], [100, 10]) and np.isnan(pts[3]).all()
    # offset: frame 0 starts at 0.1 s
    assert np.allclose(tr.per_frame(10, 1, (200, 100), offset_s=0.1)[0], [50, 20])


@pytest.mark.parametrize("kw", [{"fps": 0}, {"fps": -3}, {"n_frames": -1}, {"n_frames": 2.5},
                                {"frame_wh": (0, 4)}, {"hold_s": -1}])
def test_per_frame_bad_args(kw):
    tr = _trace([0, 1], [1, 2], [1, 2])
    args = {"fps": 10, "n_frames": 3, "frame_wh": (10, 10)}
    hold = kw.pop("hold_s", 0.0)
    args.update(kw)
    with pytest.raises(gaze.GazeError):
        tr.per_frame(args["fps"], args["n_frames"], args["frame_wh"], hold_s=hold)


def test_trace_length_mismatch():
    with pytest.raises(gaze.GazeError):
        gaze.GazeTrace(np.zeros(3), np.zeros(2), np.zeros(3), np.ones(3, bool))


def test_real_gazecom(shared_data):
    files = sorted(glob.glob(os.path.join(shared_data, "gaze/gazecom/natural_movies_gaze/*.coord")))
    if not files:
        pytest.skip("no GazeCom files")
    for f in files[:5]:
        tr = gaze.read_gaze(f)
        assert (tr.width_px, tr.height_px) == (1280, 720)
        assert tr.sample_rate == pytest.approx(250, rel=0.01)
        assert tr.valid.mean() > 0.5
        assert tr.display.ppd == pytest.approx(25.13, abs=0.01)
        pts = tr.per_frame(30, 300, (1280, 720))
        ok = np.isfinite(pts).all(axis=1)
        assert ok.mean() > 0.5
        assert (pts[ok] >= 0).all() and (pts[ok, 0] < 1280).all() and (pts[ok, 1] < 720).all()


def test_real_diem(shared_data):
    files = sorted(glob.glob(os.path.join(shared_data, "gaze/diem/*/event_data/*.txt")))
    if not files:
        pytest.skip("no DIEM files")
    for f in files[:5]:
        tr = gaze.read_gaze(f)
        assert tr.fmt == "diem" and (tr.width_px, tr.height_px) == (1066, 710)
        assert tr.sample_rate == pytest.approx(30)
        assert set(np.unique(tr.events)) <= {-1, 0, 1, 2}
        assert (tr.events == 2).sum() > 10 and (tr.events == 1).mean() > 0.5
        pts = tr.per_frame(30, len(tr), (1066, 710))
        assert np.isfinite(pts).all(axis=1).sum() == tr.valid.sum()
        assert math.isfinite(tr.x[tr.valid].mean())


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_ALPHABET = st.sampled_from(list("0123456789.-+eE \t,;\nnaixyt#") + ["gaze ", "geometry ", "distance ", "width ",
                                                                    "nan", "inf", "1280 720\n", "\r\n"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.lists(_ALPHABET, max_size=80).map("".join), fmt=st.sampled_from(["auto", "gazecom", "diem", "csv"]),
       prefix=st.sampled_from(["", COORD, "t,x,y\n", "1\t2\t3\t4\t1\t6\t7\t8\t1\n"]))
def test_fuzz_readers_only_raise_gaze_error(tmp_path, body, fmt, prefix):
    p = tmp_path / "f.coord"
    p.write_text(prefix + body)
    try:
        tr = gaze.read_gaze(str(p), fmt=fmt)
    except gaze.GazeError:
        return
    assert len(tr.t) == len(tr.x) == len(tr.valid)
    pts = tr.per_frame(25, 4, (64, 48), hold_s=0.1)
    assert pts.shape == (4, 2)


def test_per_frame_accepts_numpy_and_fraction_fps():
    from fractions import Fraction

    tr = _trace([0, 0.05, 0.1], [1, 2, 3], [1, 2, 3], wh=(10, 10))
    a = tr.per_frame(np.float32(20), 2, (10, 10))
    b = tr.per_frame(Fraction(20), 2, (10, 10))
    assert np.allclose(a, b) and np.allclose(a[1], [2, 2])
    with pytest.raises(gaze.GazeError):
        tr.per_frame("x", 2, (10, 10))
    with pytest.raises(gaze.GazeError):
        tr.per_frame(float("inf"), 2, (10, 10))
