"""Saliency (rac_video.importance.saliency)."""
import glob
import os

import numpy as np
import pytest
from PIL import Image

from rac_video.importance import saliency


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    f = np.full((120, 200, 3), 128, np.uint8)
    f += rng.integers(0, 6, f.shape).astype(np.uint8)  # faint uniform texture
    f[40:60, 130:150] = (250, 20, 20)  # one odd patch
    return f


def test_spectral_residual_finds_the_odd_patch():
    s = saliency.spectral_residual(_scene())
    assert s.shape == (120, 200) and s.dtype == np.float32
    assert s.min() == 0.0 and s.max() == pytest.approx(1.0)
    inside = s[40:60, 130:150].mean()
    outside = np.concatenate([s[:30].ravel(), s[:, :100].ravel()]).mean()
    assert inside > 3 * outside
    yy, xx = np.unravel_index(np.argmax(s), s.shape)
    assert 30 <= yy < 70 and 120 <= xx < 160


def test_spectral_residual_gray_float_and_constant():
    g = _scene()[..., 1].astype(np.float32) / 255
    assert saliency.spectral_residual(g).shape == (120, 200)
    assert (saliency.spectral_residual(np.zeros((30, 40, 3), np.uint8)) == 0).all()
    a = saliency.spectral_residual(_scene())
    b = saliency.spectral_residual(_scene())
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4, 3), np.uint8),
                                 np.full((8, 8), np.nan, np.float32), np.zeros((8, 8), np.int64)])
def test_spectral_residual_bad_input(bad):
    with pytest.raises(ValueError):
        saliency.spectral_residual(bad)


def test_optional_opencv():
    try:
        import cv2  # noqa: F401
    except ImportError:
        with pytest.raises(saliency.MissingDependency):
            saliency.opencv_saliency(_scene())
        with pytest.raises(saliency.MissingDependency):
            saliency.detect_faces(_scene())
        return
    if hasattr(cv2, "saliency"):
        s = saliency.opencv_saliency(_scene())
        assert s.shape == (120, 200) and 0 <= s.min() and s.max() <= 1
    assert saliency.detect_faces(_scene()).shape[1] == 4


def test_external_sequence_images(tmp_path):
    for i in range(3):
        a = np.zeros((10, 20), np.uint8)
        a[:, i] = 255
        Image.fromarray(a).save(tmp_path / f"{i:03d}.png")
    Image.fromarray(np.full((10, 20), 1000, np.uint16)).save(tmp_path / "003.png")
    (tmp_path / "notes.txt").write_text("x")
    seq = saliency.SaliencySequence(str(tmp_path))
    assert len(seq) == 4
    maps = list(seq)
    assert maps[1][:, 1].min() == 1.0 and maps[1][:, 0].max() == 0.0
    assert maps[3].max() == pytest.approx(1000 / 65535)
    up = saliency.SaliencySequence(str(tmp_path / "*.png"), frame_hw=(20, 40))
    assert up[0].shape == (20, 40) and 0 <= up[0].min() and up[0].max() <= 1
    with pytest.raises(IndexError):
        seq[4]


def test_external_sequence_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        saliency.SaliencySequence(str(tmp_path / "nothing"))
    (tmp_path / "e").mkdir()
    with pytest.raises(ValueError):
        saliency.SaliencySequence(str(tmp_path / "e"))
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ValueError):
        saliency.SaliencySequence([str(bad)])[0]


def test_external_sequence_video(tmp_path):
    av = pytest.importorskip("av")
    p = str(tmp_path / "s.mkv")
    with av.open(p, "w") as c:
        s = c.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 32, 16, "gray"
        for i in range(3):
            a = np.full((16, 32), 60 * i, np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(a, format="gray")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    seq = saliency.SaliencySequence(p)
    assert len(seq) == 3
    assert seq[2].mean() == pytest.approx(120 / 255, abs=1e-6)


def test_davis_masks_are_salient(shared_data):
    """Spectral residual on real DAVIS frames ranks object pixels above background (AUC)."""
    root = os.path.join(shared_data, "video/davis2016")
    seqs = sorted(glob.glob(os.path.join(root, "Annotations/*")))
    if not seqs:
        pytest.skip("no DAVIS data")
    aucs = []
    for s in seqs:
        name = os.path.basename(s)
        f = np.asarray(Image.open(os.path.join(root, "JPEGImages", name, "00000.jpg")).convert("RGB"))
        m = np.asarray(Image.open(os.path.join(s, "00000.png"))) > 0
        sal = saliency.spectral_residual(f).ravel()
        r = np.argsort(np.argsort(sal)).astype(np.float64)
        mm = m.ravel()
        n1, n0 = mm.sum(), (~mm).sum()
        aucs.append((r[mm].sum() - n1 * (n1 - 1) / 2) / (n1 * n0))
    assert np.mean(aucs) > 0.7
