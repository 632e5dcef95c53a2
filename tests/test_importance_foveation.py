"""Display geometry and the foveation model (rac_video.importance.foveation)."""
import math

import numpy as np
import pytest

from rac_video.importance import foveation as fov


def test_gazecom_pixels_per_degree():
    d = fov.GAZECOM_DISPLAY
    # 1280 px over 0.4 m -> 3200 px/m; 1 degree at 0.45 m spans 2*0.45*tan(0.5 deg) = 7.854 mm
    assert d.ppd == pytest.approx(3200 * 2 * 0.45 * math.tan(math.radians(0.5)), rel=1e-12)
    assert d.ppd == pytest.approx(25.133, abs=1e-3)
    assert d.nyquist_cpd == pytest.approx(12.567, abs=1e-3)
    assert d.frame_ppd((720, 1280)) == pytest.approx(d.ppd)
    # a 416x240 frame fitted to the 1280x720 screen: scale min(1280/416, 720/240) = 3
    assert d.frame_scale((240, 416)) == pytest.approx(3.0)
    assert d.frame_ppd((240, 416)) == pytest.approx(d.ppd / 3)


def test_geisler_perry_values():
    p = fov.FoveationParams()
    assert float(fov.cutoff_frequency(0.0, p)) == pytest.approx(math.log(64) / 0.106)
    assert float(fov.cutoff_frequency(2.3, p)) == pytest.approx(math.log(64) / 0.106 / 2)
    # monotone decreasing
    e = np.linspace(0, 60, 100)
    assert np.all(np.diff(fov.cutoff_frequency(e, p)) < 0)


def test_importance_plateau_margin_and_floor():
    p = fov.FoveationParams(margin_deg=0.5, floor=0.1)
    ppd = fov.GAZECOM_DISPLAY.ppd
    # Nyquist 12.57 cpd: f_c(e) >= 12.57 out to e = 2.3*(39.23/12.57 - 1) = 4.88 deg, plus 0.5 margin
    e_plateau = 2.3 * (math.log(64) / 0.106 / (ppd / 2) - 1) + 0.5
    v = fov.importance_from_eccentricity([0, e_plateau - 0.01, e_plateau + 1, 200], ppd, p)
    assert v[0] == 1 and v[1] == 1 and v[2] < 1
    assert v[3] == pytest.approx(0.1)
    assert fov.radius_for_importance(1.0, ppd, p) == pytest.approx(e_plateau)
    for target in (0.9, 0.5, 0.2):
        r = fov.radius_for_importance(target, ppd, p)
        assert float(fov.importance_from_eccentricity(r, ppd, p)) == pytest.approx(target, rel=1e-9)
    assert fov.radius_for_importance(0, ppd, p) == math.inf
    # a sharper display (more ppd) -> a narrower full-importance plateau
    assert fov.radius_for_importance(1.0, 60.0, p) < fov.radius_for_importance(1.0, 20.0, p)


def test_importance_map_shape_max_and_multi_viewer():
    d = fov.GAZECOM_DISPLAY
    m1 = fov.importance_map([[200, 200]], (360, 640), d)
    m2 = fov.importance_map([[500, 100]], (360, 640), d)
    both = fov.importance_map([[200, 200], [500, 100]], (360, 640), d)
    assert m1.dtype == np.float32 and m1.shape == (360, 640)
    assert np.allclose(both, np.maximum(m1, m2))
    assert m1[200, 200] == 1.0 and m1.min() >= 0.1 - 1e-7
    # radially decreasing away from the gaze point
    row = m1[200, 200:]
    assert np.all(np.diff(row) <= 1e-7)
    # NaN points are ignored; none valid -> uniform (default) or floor
    assert np.array_equal(fov.importance_map([[np.nan, 3], [200, 200]], (360, 640), d), m1)
    assert (fov.importance_map(np.zeros((0, 2)), (10, 12), d) == 1).all()
    assert np.allclose(fov.importance_map([[np.nan, np.nan]], (10, 12), d, empty="floor"), 0.1)
    assert (fov.importance_map([[5, 5]], (10, 12), d, floor=0.3) >= 0.3 - 1e-7).all()


def test_exact_angle_vs_flat():
    d = fov.GAZECOM_DISPLAY
    flat = fov.eccentricity([[640, 360]], (720, 1280), d)[0]
    ex = fov.eccentricity([[640, 360]], (720, 1280), d, exact=True)[0]
    # near the centre they agree; at the screen edge the true angle is atan(0.2/0.45) = 23.96 deg
    assert ex[360, 641] == pytest.approx(flat[360, 641], rel=1e-3)
    assert ex[360, 1279] == pytest.approx(math.degrees(math.atan2(639.5 * 0.4 / 1280, 0.45)), rel=1e-6)
    assert flat[360, 1279] > ex[360, 1279]


@pytest.mark.parametrize("args", [(0, 1280, 720, 0.45), (0.4, 0, 720, 0.45), (0.4, 1280, 720, -1),
                                  (float("nan"), 1280, 720, 0.45), (0.4, 12.5, 720, 0.45)])
def test_bad_display(args):
    with pytest.raises(ValueError):
        fov.Display(*args)


def test_bad_params_and_points():
    with pytest.raises(ValueError):
        fov.FoveationParams(floor=1.5)
    with pytest.raises(ValueError):
        fov.FoveationParams(margin_deg=-1)
    with pytest.raises(ValueError):
        fov.importance_map([[1, 2, 3]], (10, 10), fov.GAZECOM_DISPLAY)
    with pytest.raises(ValueError):
        fov.importance_map([[1, 2]], (0, 10), fov.GAZECOM_DISPLAY)
    with pytest.raises(ValueError):
        fov.importance_map([[1, 2]], (10, 10), fov.GAZECOM_DISPLAY, empty="zero")
