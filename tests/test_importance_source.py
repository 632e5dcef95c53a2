"""Per-frame importance sources for the pipeline (rac_video.importance.source)."""
import glob
import os

import numpy as np
import pytest
from PIL import Image

from rac_video.importance import sideinfo as si
from rac_video.importance import source

COORD = "gaze 1280 720\ngeometry distance 0.45 width 0.4 height 0.225\n"


def _frames(n=4, hw=(48, 64)):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, hw + (3,)).astype(np.uint8) for _ in range(n)]


def test_uniform_and_boxes():
    src = source.open_source("uniform", (48, 64), 25)
    f = src.step()
    assert (f.map == 1).all() and (f.levels((6, 8)) == 15).all()
    assert len(f.side_info((6, 8)).to_bytes()) == 9
    b = source.open_source("boxes:8,8,24,24;40,0,64,16", (48, 64), 25, background=0.2, feather_px=0)
    m = b.step().map
    assert m[10, 10] == 1 and m[40, 10] == pytest.approx(0.2) and m[5, 50] == 1
    lv = b.step().levels((6, 8))
    assert lv[1, 1] == 15 and lv[5, 0] == 3


def test_saliency_smoothed():
    fr = _frames()
    src = source.open_source("saliency", (48, 64), 25, tau_s=0.1)
    outs = [src.step(f) for f in fr]
    assert all(o.map.shape == (48, 64) for o in outs) and [o.index for o in outs] == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        src.step(None)
    with pytest.raises(ValueError):
        src.step(np.zeros((10, 10, 3), np.uint8))


def test_masks_and_external_saliency(tmp_path):
    for i in range(2):
        a = np.zeros((24, 32), np.uint8)
        a[4:12, 4 + 8 * i:12 + 8 * i] = 255
        Image.fromarray(a).save(tmp_path / f"{i:05d}.png")
    m = source.open_source(f"masks:{tmp_path}", (48, 64), 25, feather_px=0, background=0.0)
    f0 = m.step()
    assert f0.map.shape == (48, 64) and f0.map[16, 16] == 1 and f0.map[40, 60] == 0
    m.step()
    with pytest.raises(ValueError):
        m.step()
    s = source.open_source(f"saliency:{tmp_path}", (48, 64), 25, tau_s=0)
    assert s.step().map[16, 16] == 1


def test_gaze_source_parametric_side_info(tmp_path):
    rows = []
    for k in range(250):  # 1 s at 250 Hz: fixation, then a jump at 0.5 s
        x, y = (320.0, 360.0) if k < 125 else (960.0, 360.0)
        rows.append(f"{1000 + 4000 * k} {x} {y} 1\n")
    p = tmp_path / "v.coord"
    p.write_text(COORD + "".join(rows))
    src = source.open_source(f"gaze:{p}", (720, 1280), 30)
    fr = [src.step() for _ in range(32)]
    assert np.allclose(fr[3].points[0], [320, 360])  # y flipped: 720 - 360
    assert fr[3].map[360, 320] == 1 and fr[3].map[360, 1200] < 1
    jump = [f.saccade for f in fr]
    assert jump.count(True) == 1 and jump.index(True) == 15  # frame 15 starts at 0.5 s
    assert np.allclose(fr[15].points[0], [960, 360])
    side = fr[20].side_info((90, 160))
    assert isinstance(side, si.FoveatedGaze) and len(side.to_bytes()) < 64
    back = si.from_bytes(side.to_bytes())
    assert np.array_equal(back.levels((90, 160)), fr[20].levels((90, 160)))
    assert fr[-1].index == 31 and np.allclose(fr[-1].points[0], [960, 360])  # past the trace end: held
    with pytest.raises(ValueError):
        source.open_source(f"gaze:{tmp_path}/none*.coord", (720, 1280), 30)


@pytest.mark.parametrize("spec", ["", "warp", "masks:", "boxes:1,2,3", "boxes:a,b,c,d", "gaze:/no/such/file"])
def test_bad_specs(spec):
    with pytest.raises(ValueError):
        source.open_source(spec, (10, 10), 25)


def test_bad_args():
    with pytest.raises(ValueError):
        source.open_source("uniform", (0, 10), 25)
    with pytest.raises(ValueError):
        source.open_source("uniform", (10, 10), 0)
    with pytest.raises(ValueError):
        source.open_source("uniform", (10, 10), 25, levels=1)
    with pytest.raises(TypeError):
        source.open_source("uniform", (10, 10), 25, nonsense=3)


def test_real_gazecom_viewers(shared_data):
    files = sorted(glob.glob(os.path.join(shared_data, "gaze/gazecom/natural_movies_gaze/*_beach.coord")))[:5]
    if not files:
        pytest.skip("no GazeCom data")
    src = source.open_source("gaze:" + ",".join(files), (240, 416), 50)
    sizes = []
    for _ in range(100):
        f = src.step()
        sizes.append(len(f.side_info((30, 52)).to_bytes()))
        assert f.points.shape == (5, 2)
    assert max(sizes) <= 9 + 4 * 5 + 2 * 15


def test_faces_source():
    from rac_video.importance import saliency

    try:
        import cv2  # noqa: F401
    except ImportError:
        with pytest.raises(saliency.MissingDependency):
            source.open_source("faces", (48, 64), 25)
        return
    src = source.open_source("faces", (48, 64), 25, background=0.3)
    f = src.step(np.zeros((48, 64, 3), np.uint8))  # no face in a black frame
    assert np.allclose(f.map, 0.3)
    with pytest.raises(ValueError):
        src.step(None)
