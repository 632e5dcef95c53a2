"""Levels at latent resolution and side information bytes (rac_video.importance.sideinfo)."""
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rac_video.importance import foveation as fov
from rac_video.importance import sideinfo as si


def test_area_weights_rows_sum_to_input_length():
    for n_in, n_out in [(720, 90), (721, 90), (10, 3), (5, 5), (7, 1)]:
        w = si.area_weights(n_in, n_out)
        assert w.shape == (n_out, n_in)
        assert (w.sum(axis=1) == n_in).all()
        assert (w.sum(axis=0) == n_out).all()


def test_levels_integer_ratio_matches_block_mean():
    rng = np.random.default_rng(1)
    m = rng.random((64, 96)).astype(np.float32)
    lv = si.levels_from_importance(m, (8, 12), levels=16)
    ref = np.rint(np.rint(m.astype(np.float64) * 65535).reshape(8, 8, 12, 8).mean(axis=(1, 3)) / 65535 * 15)
    # exact half-way cases are vanishingly unlikely with random data; compare directly
    assert lv.dtype == np.uint8 and lv.shape == (8, 12)
    assert np.array_equal(lv, ref.astype(np.uint8))


def test_levels_non_integer_ratio_and_extremes():
    assert (si.levels_from_importance(np.ones((50, 70)), (7, 9)) == 15).all()
    assert (si.levels_from_importance(np.zeros((50, 70)), (7, 9)) == 0).all()
    assert (si.levels_from_importance(np.full((50, 70), 2.0), (7, 9), levels=4) == 3).all()  # clipped
    half = si.levels_from_importance(np.full((10, 10), 0.5), (3, 3), levels=3)
    assert (half == 1).all()
    # rounding is half-up in exact arithmetic: 0.5 of (L-1)=1 step -> level 1 for L=2
    assert (si.levels_from_importance(np.full((4, 4), 0.5), (2, 2), levels=2) == 1).all()


def test_levels_deterministic_across_dtypes_and_runs():
    rng = np.random.default_rng(2)
    m = rng.random((123, 217))
    a = si.levels_from_importance(m, (31, 55))
    b = si.levels_from_importance(m.astype(np.float32).astype(np.float64), (31, 55))
    c = si.levels_from_importance(m, (31, 55))
    assert np.array_equal(a, c)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


@pytest.mark.parametrize("bad", [np.full((4, 4), np.nan), np.zeros((4,)), np.zeros((0, 4)),
                                 np.array([["a"]]), np.zeros((2, 3, 4))])
def test_levels_bad_input(bad):
    with pytest.raises(ValueError):
        si.levels_from_importance(bad, (1, 1))


def test_levels_bad_args():
    with pytest.raises(ValueError):
        si.levels_from_importance(np.zeros((4, 4)), (8, 8))
    with pytest.raises(ValueError):
        si.levels_from_importance(np.zeros((4, 4)), (2, 2), levels=1)
    with pytest.raises(ValueError):
        si.levels_from_importance(np.zeros((4, 4)), (0, 2))


@pytest.mark.parametrize("kind", ["const", "random", "fovea", "boxes"])
def test_raster_roundtrip(kind):
    rng = np.random.default_rng(3)
    if kind == "const":
        lv = np.full((90, 160), 7, np.uint8)
    elif kind == "random":
        lv = rng.integers(0, 16, (33, 47)).astype(np.uint8)
    elif kind == "fovea":
        m = fov.importance_map([[500, 300]], (720, 1280), fov.GAZECOM_DISPLAY)
        lv = si.levels_from_importance(m, (90, 160))
    else:
        lv = np.zeros((90, 160), np.uint8)
        lv[10:40, 20:70] = 15
        lv[50:80, 100:150] = 9
    r = si.RasterLevels(lv)
    b = r.to_bytes()
    assert b[0] == si.VERSION and b[1] == si.KIND_RASTER
    back = si.from_bytes(b)
    assert isinstance(back, si.RasterLevels) and back == r
    assert np.array_equal(back.levels(lv.shape), lv)
    if kind == "const":
        assert len(b) == 9
    if kind == "boxes":
        assert len(b) < 100


def test_raster_shape_mismatch_and_bad_levels():
    r = si.RasterLevels(np.zeros((4, 5), np.uint8))
    with pytest.raises(si.SideInfoError):
        r.levels((5, 4))
    with pytest.raises(ValueError):
        si.RasterLevels(np.full((4, 4), 16, np.uint8))
    with pytest.raises(ValueError):
        si.RasterLevels(np.zeros((4, 4), np.float32))
    assert np.array_equal(si.RasterLevels(np.ones((1, 1, 3, 3), np.int32)).levels(), np.ones((3, 3), np.uint8))


def test_foveation_params_and_gaze_roundtrip():
    g = si.FoveatedGaze([[640.3, 360.6], [100, 100], [np.nan, 5]], (720, 1280), fov.FoveationParams(floor=0.2))
    assert len(g.points_q) == 2
    b = g.to_bytes()
    assert len(b) == 9 + 4 * 2 + 2 * (15 - g.floor_level)
    back = si.from_bytes(b)
    assert isinstance(back, si.FoveatedGaze) and back == g
    for hw in [(90, 160), (45, 80), (180, 320), (7, 13)]:
        assert np.array_equal(back.levels(hw), g.levels(hw))
    assert g.floor_level == 3  # round(0.2 * 15)
    assert g.levels((90, 160)).min() == 3


def test_gaze_levels_close_to_raster_of_importance_map():
    d = fov.GAZECOM_DISPLAY
    pts = [[640, 360], [200, 600]]
    m = fov.importance_map(pts, (720, 1280), d)
    ref = si.levels_from_importance(m, (90, 160)).astype(int)
    got = si.FoveatedGaze(pts, (720, 1280), display=d).levels((90, 160)).astype(int)
    assert np.abs(got - ref).max() <= 1
    assert (got != ref).mean() < 0.02
    # the cell under the gaze point is at the top level
    assert got[45, 80] == 15


def test_gaze_no_points_is_uniform_top_level():
    g = si.FoveatedGaze(np.zeros((0, 2)), (240, 416))
    assert (si.from_bytes(g.to_bytes()).levels((30, 52)) == 15).all()


def test_gaze_levels_integer_path_known_values():
    # hand-built table: level >= 2 within 8 px, >= 1 within 16 px, floor 0, L = 3
    g = si.FoveatedGaze([[16, 16]], (32, 32), n_levels=3, radii_q=[64, 32], floor_level=0)
    lv = g.levels((32, 32))  # one cell per pixel, centres at +0.5
    yy, xx = np.mgrid[0:32, 0:32] + 0.5
    d = np.hypot(xx - 16, yy - 16)
    ref = (d <= 16).astype(int) + (d <= 8).astype(int)
    assert np.array_equal(lv, ref)


def test_sizes_for_720p():
    """Parametric side info stays tiny; the raster of a foveation map is coded losslessly."""
    d = fov.GAZECOM_DISPLAY
    g = si.FoveatedGaze([[640, 360]], (720, 1280), display=d)
    assert len(g.to_bytes()) <= 64
    m = fov.importance_map([[640, 360]], (720, 1280), d)
    r = si.RasterLevels(si.levels_from_importance(m, (90, 160)))
    assert len(r.to_bytes()) < 90 * 160 // 8


@pytest.mark.parametrize("b", [b"", b"\x01", b"\x02\x01", b"\x01\x09", b"\x01\x01\x10\x00\x00\x04\x00\x00\x00",
                               b"\x01\x01\x10\x04\x00\x04\x00\x07", b"\x01\x01\x10\x04\x00\x04\x00\x00\x10",
                               b"\x01\x01\x10\x04\x00\x04\x00\x01" + zlib.compress(bytes(15)),
                               b"\x01\x01\x10\x04\x00\x04\x00\x01" + zlib.compress(bytes(17)),
                               b"\x01\x01\x10\x04\x00\x04\x00\x01" + zlib.compress(bytes(16)) + b"x",
                               b"\x01\x01\x10\x04\x00\x04\x00\x01" + zlib.compress(b"\x20" * 16),
                               b"\x01\x01\x10\x01\x00\x04\x00\x03" + zlib.compress(bytes((1, 4))),
                               b"\x01\x01\x10\x02\x00\x02\x00\x03" + zlib.compress(bytes((1, 0, 1, 2))),
                               b"\x01\x02\x10\x00\xd0\x02\x00\x05\x01", b"\x01\x02\x03\x00\x10\x00\x10\x00\x00"
                               + struct.pack("<HH", 1, 2),
                               b"\x01\x02\x03\x00\x10\x00\x10\x00\x01" + struct.pack("<HHHH", 100, 2, 1, 2),
                               b"\x01\x02\x03\x00\x10\x00\x10\x00\x00" + struct.pack("<HH", 1, 2)])
def test_malformed_bytes(b):
    with pytest.raises(si.SideInfoError):
        si.from_bytes(b)


def test_not_bytes():
    with pytest.raises(si.SideInfoError):
        si.from_bytes("abc")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_fuzz_random_bytes(b):
    try:
        s = si.from_bytes(b)
    except si.SideInfoError:
        return
    lv = s.levels(s.shape if isinstance(s, si.RasterLevels) else (3, 5))
    assert lv.dtype == np.uint8 and int(lv.max()) < s.n_levels


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_valid_bytes(data):
    kind = data.draw(st.sampled_from(["raster", "gaze"]))
    if kind == "raster":
        lv = np.zeros((12, 20), np.uint8)
        lv[3:9, 5:15] = 9
        b = bytearray(si.RasterLevels(lv).to_bytes())
    else:
        b = bytearray(si.FoveatedGaze([[30, 20], [5, 7]], (40, 60), display=fov.Display(0.3, 60, 40, 0.5)).to_bytes())
    n = data.draw(st.integers(1, 4))
    for _ in range(n):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        b = b[: data.draw(st.integers(0, len(b)))]
    try:
        s = si.from_bytes(bytes(b))
    except si.SideInfoError:
        return
    hw = s.shape if isinstance(s, si.RasterLevels) else (4, 6)
    lv = s.levels(hw)
    assert lv.shape == tuple(hw) and int(lv.max()) < s.n_levels


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_transition_coder_roundtrip(data):
    from rac_video.importance import _levelcode

    L = data.draw(st.integers(2, 40))
    h = data.draw(st.integers(1, 12))
    w = data.draw(st.integers(1, 40))
    kind = data.draw(st.sampled_from(["random", "smooth", "const"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    if kind == "random":
        a = rng.integers(0, L, (h, w))
    elif kind == "smooth":
        yy, xx = np.mgrid[0:h, 0:w]
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        a = np.clip((L - 1) - np.hypot(xx - cx, yy - cy) * rng.uniform(0.1, 3), 0, L - 1).round()
    else:
        a = np.full((h, w), rng.integers(0, L))
    a = a.astype(np.uint8)
    b = _levelcode.encode(a, L)
    assert np.array_equal(_levelcode.decode(b, h, w, L), a)
    r = si.RasterLevels(a, L)
    assert np.array_equal(si.from_bytes(r.to_bytes()).levels(), a)


def test_transition_coder_used_and_smaller_for_smooth_maps():
    m = fov.importance_map([[640, 360]], (720, 1280), fov.GAZECOM_DISPLAY)
    lv = si.levels_from_importance(m, (90, 160))
    b = si.RasterLevels(lv).to_bytes()
    assert b[7] == 4  # method byte: transitions + range coder
    assert len(b) < 500


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=80), st.integers(1, 6), st.integers(1, 30), st.integers(2, 16))
def test_fuzz_transition_decoder(body, h, w, L):
    b = struct.pack("<BBBHHB", si.VERSION, si.KIND_RASTER, L, h, w, 4) + body
    try:
        r = si.from_bytes(b)
    except si.SideInfoError:
        return
    lv = r.levels()
    assert lv.shape == (h, w) and int(lv.max()) < L


def test_block_fast_path_equals_general_path():
    rng = np.random.default_rng(5)
    m = rng.random((48, 64))
    m[:8] = 0.5  # exact half-way blocks
    fast = si.levels_from_importance(m, (6, 8), levels=16)
    v = np.rint(np.clip(m, 0, 1) * 65535)
    wy = si.area_weights(48, 6).astype(np.float64)
    wx = si.area_weights(64, 8).astype(np.float64)
    s = (wy @ v @ wx.T).astype(np.int64)
    D = 65535 * 48 * 64
    assert np.array_equal(fast, ((s * 30 + D) // (2 * D)).astype(np.uint8))


@pytest.mark.parametrize("shape,hw", [((50, 70), (7, 9)), ((721, 1281), (91, 161)), ((33, 17), (33, 17)),
                                      ((10, 10), (1, 1)), ((37, 53), (36, 2))])
def test_pooling_matches_dense_overlap_weights(shape, hw):
    rng = np.random.default_rng(6)
    m = rng.random(shape)
    v = np.rint(m * 65535)
    wy = si.area_weights(shape[0], hw[0]).astype(np.float64)
    wx = si.area_weights(shape[1], hw[1]).astype(np.float64)
    s = (wy @ v @ wx.T).astype(np.int64)
    D = 65535 * shape[0] * shape[1]
    assert np.array_equal(si.levels_from_importance(m, hw), ((s * 30 + D) // (2 * D)).astype(np.uint8))


def test_max_levels_roundtrip():
    rng = np.random.default_rng(9)
    m = rng.random((40, 60))
    lv = si.levels_from_importance(m, (10, 15), levels=si.MAX_LEVELS)
    assert int(lv.max()) <= 254
    r = si.RasterLevels(lv, si.MAX_LEVELS)
    assert np.array_equal(si.from_bytes(r.to_bytes()).levels(), lv)
    g = si.FoveatedGaze([[30, 20]], (40, 60), n_levels=si.MAX_LEVELS, display=fov.Display(0.3, 60, 40, 0.5))
    assert np.array_equal(si.from_bytes(g.to_bytes()).levels((10, 15)), g.levels((10, 15)))
    with pytest.raises(ValueError):
        si.RasterLevels(lv, 256)
