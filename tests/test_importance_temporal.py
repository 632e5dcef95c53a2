"""Saccade detection, gaze filter, map smoothing (rac_video.importance.temporal)."""
import numpy as np
import pytest

from rac_video.importance import temporal


def _synthetic(fps=250.0, ppd=25.0):
    """Fixation (jitter), 40 ms saccade of 10 deg, fixation, smooth pursuit at 8 deg/s."""
    rng = np.random.default_rng(0)
    n1, ns, n2, n3 = 100, 10, 100, 150
    x = np.concatenate([np.full(n1, 300.0), np.linspace(300, 300 + 10 * ppd, ns + 2)[1:-1], np.full(n2, 550.0),
                        550 + 8 * ppd * np.arange(n3) / fps])
    y = np.full_like(x, 200.0)
    xy = np.stack([x, y], 1) + rng.normal(0, 0.15, (len(x), 2))  # 0.006 deg jitter (EyeLink-like noise)
    t = np.arange(len(x)) / fps
    truth = np.zeros(len(x), bool)
    truth[n1:n1 + ns + 1] = True
    return t, xy, truth, ppd


def test_detect_saccades_synthetic():
    t, xy, truth, ppd = _synthetic()
    det = temporal.detect_saccades(t, xy, ppd)
    assert (det == truth).mean() > 0.98
    assert det[truth].mean() > 0.9
    assert not det[-150:].any()  # 8 deg/s pursuit is not a saccade
    v = temporal.velocity_deg_s(t, xy, ppd)
    assert np.isnan(v[0]) and v[105] == pytest.approx(10 / 11 * 250 / 1, rel=0.1)
    assert temporal.detect_saccades(t, xy, ppd, threshold_deg_s=1000).sum() == 0


def test_velocity_modes_and_missing():
    t = np.arange(5) * 0.1
    xy = np.array([[0, 0], [10, 0], [np.nan, np.nan], [30, 0], [30, 0]], float)
    b = temporal.velocity_deg_s(t, xy, 10.0)
    assert np.isnan(b[0]) and b[1] == pytest.approx(10) and np.isnan(b[2]) and np.isnan(b[3]) and b[4] == 0
    c = temporal.velocity_deg_s(t, xy, 10.0, "central")
    assert np.isnan(c[0]) and np.isnan(c[1]) and c[3] == pytest.approx(np.nan, nan_ok=True)
    e = temporal.velocity_deg_s(t, xy, 10.0, "either")
    assert e[0] == pytest.approx(10) and e[3] == 0
    with pytest.raises(ValueError):
        temporal.velocity_deg_s(t, xy, 10.0, "forward")
    with pytest.raises(ValueError):
        temporal.velocity_deg_s(t, xy[:3], 10.0)
    with pytest.raises(ValueError):
        temporal.velocity_deg_s(t, xy, 0)
    t2 = np.array([0, 0, 1.0])
    assert np.isnan(temporal.velocity_deg_s(t2, np.zeros((3, 2)), 1.0)[1])


def test_gaze_filter_jitter_pursuit_and_jump():
    fps, ppd = 30.0, 25.0
    rng = np.random.default_rng(1)
    f = temporal.GazeFilter(fps, ppd, tau_s=0.1)
    raw = np.array([300.0, 200.0]) + rng.normal(0, 3, (30, 2))
    outs = np.array([f.update(p)[0] for p in raw])
    assert outs[10:].std(axis=0).max() < raw[10:].std(axis=0).max() / 1.5  # jitter reduced
    # saccade: 10 deg jump in one frame -> the filter jumps there at once
    out = f.update([550.0, 200.0])[0]
    assert f.saccade[0] and np.allclose(out, [550, 200])
    # pursuit at 6 deg/s (5 px/frame): steady state without lag
    for i in range(1, 60):
        out = f.update([550.0 + 5 * i, 200.0])[0]
        assert not f.saccade[0]
    assert abs(out[0] - (550 + 5 * 59)) < 1.0


def test_gaze_filter_prediction_hold_and_viewers():
    f = temporal.GazeFilter(10.0, 10.0, tau_s=0.05, predict_s=0.2, hold_s=0.2, frame_wh=(1000, 500))
    for i in range(40):
        out = f.update([[100.0 + 2 * i, 50.0], [np.nan, np.nan]])
    # 20 px/s; predicted 0.2 s ahead -> +4 px
    assert out[0, 0] == pytest.approx(100 + 2 * 39 + 4, abs=0.5)
    assert np.isnan(out[1]).all()
    held = [f.update([[np.nan, np.nan], [np.nan, np.nan]])[0] for _ in range(3)]
    assert np.isfinite(held[0]).all() and np.isfinite(held[1]).all()  # held for hold_s = 2 frames
    assert np.isnan(held[2]).all()  # then lost
    back = f.update([[2000.0, -5.0], [3, 4]])
    assert np.allclose(back[0], [1000 - 1e-6, 0]) and np.allclose(back[1], [3, 4])


def test_gaze_filter_bad_args():
    for kw in [dict(fps=0, ppd=1), dict(fps=30, ppd=-1), dict(fps=30, ppd=1, tau_s=-1),
               dict(fps=30, ppd=1, threshold_deg_s=0), dict(fps=30, ppd=1, predict_s=float("nan"))]:
        with pytest.raises(ValueError):
            temporal.GazeFilter(**kw)
    with pytest.raises(ValueError):
        temporal.GazeFilter(30, 1).update([1, 2, 3])


def test_smoother_ema_and_saccade_reset():
    s = temporal.Smoother(10.0, tau_s=0.1, ppd=10.0)
    a = np.zeros((4, 4), np.float32)
    b = np.ones((4, 4), np.float32)
    assert np.array_equal(s.update(a, gaze=[50, 50]), a)
    m = s.update(b, gaze=[50.5, 50])  # 5 deg/s: no saccade -> smoothed
    k = np.exp(-1.0)
    assert not s.saccade and np.allclose(m, 1 - k)
    m = s.update(a, gaze=[150, 50])  # 100 px in 0.1 s at 10 ppd = 100 deg/s -> reset
    assert s.saccade and np.array_equal(m, a)
    assert np.array_equal(s.update(b, reset=True), b)
    assert s.update(np.zeros((2, 2))).shape == (2, 2)  # shape change -> reset
    with pytest.raises(ValueError):
        s.update(np.full((2, 2), np.nan))
    with pytest.raises(ValueError):
        s.update(a, gaze=[[1, 2, 3]])
    s0 = temporal.Smoother(10.0, tau_s=0)
    s0.update(a)
    assert np.array_equal(s0.update(b), b)


def test_gaze_filter_deadzone_holds_still_then_moves():
    fps, ppd = 30.0, 20.0
    f = temporal.GazeFilter(fps, ppd, tau_s=0.0, deadzone_deg=0.5)  # tau 0: output = input, only the zone acts
    rng = np.random.default_rng(2)
    base = np.array([400.0, 300.0])
    outs = [f.update(base + rng.uniform(-3, 3, 2))[0] for _ in range(30)]  # jitter well inside 0.5 deg = 10 px
    assert all(np.array_equal(o, outs[0]) for o in outs)
    drift = f.update(base + [15.0, 0])[0]  # left the zone (0.75 deg), slowly: follows
    assert not f.saccade[0] and np.allclose(drift, base + [15, 0])
    jump = f.update(base + [300.0, 0])[0]
    assert f.saccade[0] and np.allclose(jump, base + [300, 0])
    with pytest.raises(ValueError):
        temporal.GazeFilter(fps, ppd, deadzone_deg=-1)
