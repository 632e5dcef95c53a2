"""ROI boxes, masks and feathering (rac_video.importance.roi)."""
import glob
import os

import numpy as np
import pytest
from PIL import Image

from rac_video.importance import roi


def test_boxes_values_background_clip():
    m = roi.boxes([[10, 5, 20, 15], [15, 10, 300, 300]], (40, 50), values=[1.0, 0.5], background=0.1)
    assert m.shape == (40, 50) and m.dtype == np.float32
    assert m[5, 10] == 1 and m[14, 19] == 1 and m[15, 20] == 0.5 and m[39, 49] == 0.5
    assert m[0, 0] == pytest.approx(0.1) and m[4, 10] == pytest.approx(0.1)
    assert (roi.boxes(np.zeros((0, 4)), (4, 4)) == 0).all()
    assert roi.boxes([1, 1, 2, 2], (4, 4)).sum() == 1


@pytest.mark.parametrize("kw", [dict(box_list=[[1, 2, 3]]), dict(box_list=[[5, 5, 1, 1]]),
                                dict(box_list=[[0, 0, 1, np.nan]]), dict(box_list=[[0, 0, 1, 1]], values=[2.0]),
                                dict(box_list=[[0, 0, 1, 1]], background=-1), dict(box_list=[[0, 0, 1, 1]],
                                                                                  frame_hw=(0, 3))])
def test_boxes_bad(kw):
    args = {"frame_hw": (8, 8), **kw}
    with pytest.raises(ValueError):
        roi.boxes(args.pop("box_list"), args.pop("frame_hw"), **args)


def test_feather_keeps_inside_and_falls_off():
    m = roi.boxes([[20, 20, 40, 40]], (60, 60))
    f = roi.feather(m, 8)
    assert (f[20:40, 20:40] == 1).all()
    row = f[30, 40:60]
    assert row[0] > 0.5 and np.all(np.diff(row) <= 1e-6) and row[-1] < 0.01
    assert f[30, 15] > 0 and m[30, 15] == 0
    assert np.array_equal(roi.feather(m, 0), m)
    with pytest.raises(ValueError):
        roi.feather(m, -1)
    with pytest.raises(ValueError):
        roi.feather(np.zeros((3, 3, 3)), 1)


def test_mask_sequence_synthetic(tmp_path):
    pal = Image.new("P", (16, 8))
    a = np.zeros((8, 16), np.uint8)
    a[2:4, 3:5] = 2  # palette index 2
    pal.putdata(a.ravel().tolist())
    pal.save(tmp_path / "00000.png")
    rgb = np.zeros((8, 16, 3), np.uint8)
    rgb[5, 7] = (0, 0, 9)
    Image.fromarray(rgb).save(tmp_path / "00001.png")
    seq = roi.masks(str(tmp_path), background=0.2)
    assert len(seq) == 2
    m0 = seq[0]
    assert m0[2, 3] == 1 and m0[0, 0] == pytest.approx(0.2) and m0.sum() == pytest.approx(4 + 0.2 * 124)
    assert seq[1][5, 7] == 1
    big = roi.masks(str(tmp_path), frame_hw=(16, 32), feather_px=2)
    assert big[0].shape == (16, 32) and big[0][5, 7] == 1 and big[0][5, 4] > 0
    with pytest.raises(IndexError):
        seq[2]


def test_mask_sequence_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        roi.masks(str(tmp_path / "x"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError):
        roi.masks(str(tmp_path / "empty"))
    (tmp_path / "b.png").write_bytes(b"garbage")
    with pytest.raises(ValueError):
        roi.masks([str(tmp_path / "b.png")])[0]
    with pytest.raises(ValueError):
        roi.masks([str(tmp_path / "b.png")], feather_px=-2)


def test_davis_annotations(shared_data):
    d = os.path.join(shared_data, "video/davis2016/Annotations")
    seqs = sorted(glob.glob(os.path.join(d, "*")))
    if not seqs:
        pytest.skip("no DAVIS annotations")
    seq = roi.masks(seqs[0], feather_px=12)
    assert len(seq) > 10
    m = seq[0]
    raw = np.asarray(Image.open(seq.files[0])) > 0
    assert m.shape == raw.shape and (m[raw] == 1).all()
    assert 0.01 < raw.mean() < 0.9 and m.mean() > raw.mean()


def test_feather_keeps_background_and_values():
    m = roi.boxes([[20, 20, 40, 40], [0, 0, 5, 5]], (60, 60), values=[0.6, 1.0], background=0.3, feather_px=6)
    assert m[59, 59] == pytest.approx(0.3) and m[0, 59] == pytest.approx(0.3)  # far from boxes: background
    assert m[30, 30] == pytest.approx(0.6) and m[2, 2] == pytest.approx(1.0)
    assert 0.3 < m[30, 42] < 0.6  # soft edge between the box value and the background
    assert m.max() <= 1.0 and m.min() >= 0.3 - 1e-6
