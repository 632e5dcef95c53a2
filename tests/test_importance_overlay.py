"""Heat-map overlays (rac_video.importance.overlay)."""
import numpy as np
import pytest

from rac_video.importance import overlay


def test_heatmap_ramp_ends_and_monotone_luma():
    h = overlay.heatmap(np.linspace(0, 1, 256)[None])
    assert h.shape == (1, 256, 3) and h.dtype == np.uint8
    assert tuple(h[0, 0]) == (0, 0, 4) and tuple(h[0, -1]) == (252, 255, 164)
    luma = h[0] @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) > -1.0)
    assert np.array_equal(overlay.heatmap(np.full((2, 2), 7.0)), overlay.heatmap(np.ones((2, 2))))


def test_overlay_blend_and_resize():
    f = np.full((20, 30, 3), 100, np.uint8)
    m = np.zeros((10, 15), np.float32)
    m[:, 8:] = 1
    o = overlay.overlay(f, m, alpha=0.5)
    assert o.shape == f.shape and o.dtype == np.uint8
    assert tuple(o[0, 0]) == (50, 50, 52)
    assert tuple(o[0, -1]) == (176, 178, 132)
    w = overlay.overlay(f, m, alpha=0.5, weighted=True)
    assert tuple(w[0, 0]) == (100, 100, 100)
    assert np.array_equal(overlay.overlay(f, m, alpha=0), f)


@pytest.mark.parametrize("args", [(np.zeros((4, 4), np.uint8), np.zeros((4, 4))),
                                  (np.zeros((4, 4, 3), np.float32), np.zeros((4, 4))),
                                  (np.zeros((4, 4, 3), np.uint8), np.full((4, 4), np.nan)),
                                  (np.zeros((4, 4, 3), np.uint8), np.zeros((4,)))])
def test_overlay_bad(args):
    with pytest.raises(ValueError):
        overlay.overlay(*args)
    with pytest.raises(ValueError):
        overlay.overlay(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4)), alpha=2)


def test_write_overlay_video(tmp_path):
    av = pytest.importorskip("av")
    frames = [np.full((24, 33, 3), 20 * i, np.uint8) for i in range(4)]
    maps = [np.full((6, 8), i / 3) for i in range(4)]
    p = tmp_path / "o.mp4"
    assert overlay.write_overlay_video(p, frames, maps, 25) == 4
    with av.open(str(p)) as c:
        got = [fr.to_ndarray(format="rgb24") for fr in c.decode(video=0)]
    assert len(got) == 4 and got[0].shape == (24, 32, 3)
    with pytest.raises(ValueError):
        overlay.write_overlay_video(tmp_path / "e.mp4", [], [], 25)


def test_heatmap_scaling_for_bits_maps():
    bits = np.array([[0.0, 2.0], [4.0, 8.0]])
    assert np.array_equal(overlay.heatmap(bits, vmax=None), overlay.heatmap(bits / 8))
    assert np.array_equal(overlay.heatmap(bits, vmin=2, vmax=4)[0, 0], overlay.heatmap(np.zeros((1, 1)))[0, 0])
    assert (overlay.heatmap(np.zeros((2, 2)), vmax=None) == overlay.heatmap(np.zeros((2, 2)))).all()
    f = np.full((2, 2, 3), 10, np.uint8)
    assert overlay.overlay(f, bits, vmax=None).shape == (2, 2, 3)
