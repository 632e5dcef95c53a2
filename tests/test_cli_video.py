"""rac-video encode / decode / info FILE / demo, in process, with a random model from RAC_VIDEO_WEIGHTS."""
import json

import pytest

from rac_video.cli import main




@pytest.fixture
def clip(tmp_path):
    import numpy as np
    from PIL import Image

    d = tmp_path / "clip"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (30, 41, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return str(d)


def test_encode_info_decode(tmp_path, clip, weights_env, capsys):
    out = str(tmp_path / "c.racv")
    assert main(["encode", clip, "-o", out, "--model", "rand-a", "-q", "5", "--json", "--steps", "1",
                 "--roi", "boxes:0,0,20,30"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["frames"] == 3 and rep["width"] == 41 and rep["height"] == 30
    assert main(["info", out, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 3 and info["bytes"] == rep["file_bytes"] and info["model"] == "rand-a"
    assert info["bytes_split"]["side_info"] == rep["total_side_info_bytes"]
    assert main(["decode", out, "-o", str(tmp_path / "c.mp4"), "--no-progress"]) == 0
    assert (tmp_path / "c.mp4").stat().st_size > 0


def test_user_errors_exit_2_without_traceback(tmp_path, clip, weights_env, capsys):
    assert main(["encode", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "x.racv"), "--model", "rand-a"]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["encode", clip, "-o", str(tmp_path / "x.racv"), "--model", "no-such-model"]) == 2
    assert "not installed" in capsys.readouterr().err
    (tmp_path / "junk.racv").write_bytes(b"RACV" + bytes(40))
    assert main(["decode", str(tmp_path / "junk.racv"), "-o", str(tmp_path / "j.mp4")]) == 2
    assert not (tmp_path / "j.mp4").exists()
    # a stream from another model
    out = str(tmp_path / "a.racv")
    assert main(["encode", clip, "-o", out, "--model", "rand-a", "--no-progress"]) == 0
    capsys.readouterr()
    data = bytearray(open(out, "rb").read())
    pos = data.find(b"rand-a")
    data[pos:pos + 6] = b"rand-b"
    open(tmp_path / "b.racv", "wb").write(bytes(data))
    code = main(["decode", str(tmp_path / "b.racv"), "-o", str(tmp_path / "b.mp4")])
    assert code == 2 and not (tmp_path / "b.mp4").exists()


def test_demo_runs_end_to_end(tmp_path, weights_env, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "-o", str(out), "--frames", "3", "--model", "rand-a", "--steps", "0", "--json",
                 "--no-compare"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["encode"]["frames"] == 3 and rep["decode"]["frames"] == 3
    for k in ("stream", "decoded", "overlay", "report", "gaze"):
        assert (out / rep["files"][k].split("/")[-1]).exists()
    m = rep["metrics"]
    assert m["psnr"] > 0 and m["psnr_fovea"] is not None and m["psnr_foveated"] is not None
    assert "x264_roi" not in rep["codings"] and not (out / "demo_sidebyside.mp4").exists()
    assert json.loads((out / "report.json").read_text())["encode"]["file_bytes"] == rep["encode"]["file_bytes"]


def test_realism_default_in_header_and_decoder_override(tmp_path, clip, weights_env, capsys):
    """encode --realism records the decoders' default; decode --realism overrides it; the same file decodes
    in any mode, lossless outputs differ between modes, and a bad ρ is a one-line error (exit 2)."""
    import numpy as np

    from rac_video.container import Reader
    from rac_video.io import open_video

    out = str(tmp_path / "r.racv")
    assert main(["encode", clip, "-o", out, "--model", "rand-real", "-q", "3", "--steps", "1", "--realism", "0.7",
                 "--roi", "boxes:0,0,12,16", "--no-progress"]) == 0
    with Reader(out) as r:
        assert r.header.settings["realism"] == 0.7 and r.header.settings["colour_layer"] is True
    frames = {}
    for name, extra in (("default", []), ("fid", ["--realism", "0"]), ("full", ["--realism", "1"])):
        dst = str(tmp_path / f"{name}.mkv")
        assert main(["decode", out, "-o", dst, "--lossless", "--no-progress", *extra]) == 0
        with open_video(dst) as v:
            frames[name] = v.read_all()
    assert not np.array_equal(frames["default"], frames["fid"])
    assert not np.array_equal(frames["full"], frames["default"])
    capsys.readouterr()
    assert main(["decode", out, "-o", str(tmp_path / "x.mkv"), "--realism", "1.5"]) == 2
    assert "realism" in capsys.readouterr().err
    assert main(["encode", clip, "-o", str(tmp_path / "y.racv"), "--model", "rand-a", "--realism", "-1"]) == 2


def test_encode_masked_levels(tmp_path, clip, weights_env, capsys):
    """encode --masked M: fewer bytes than the same encode without it, recorded in the header, decodes;
    an M outside 0..L−1 is a one-line error (exit 2)."""
    from rac_video.container import Reader

    sizes = {}
    for m in (0, 8):
        out = str(tmp_path / f"m{m}.racv")
        assert main(["encode", clip, "-o", out, "--model", "rand-a", "-q", "6", "--steps", "1", "--masked", str(m),
                     "--roi", "boxes:0,0,12,16", "--json"]) == 0
        sizes[m] = json.loads(capsys.readouterr().out)["file_bytes"]
        with Reader(out) as r:
            assert r.header.settings["masked_levels"] == m
        assert main(["decode", out, "-o", str(tmp_path / f"m{m}.mkv"), "--lossless", "--no-progress"]) == 0
        capsys.readouterr()
    assert sizes[8] < sizes[0]
    assert main(["encode", clip, "-o", str(tmp_path / "x.racv"), "--model", "rand-a", "--masked", "16"]) == 2


def test_encode_refine(tmp_path, clip, weights_env, capsys):
    """encode --refine N: the header records N, the file decodes with the unchanged decoder and differs
    from the unrefined one; a negative N is a one-line error (exit 2)."""
    from rac_video.container import Reader

    outs = {}
    for n in (0, 3):
        out = tmp_path / f"r{n}.racv"
        assert main(["encode", clip, "-o", str(out), "--model", "rand-a", "-q", "6", "--steps", "1",
                     "--refine", str(n), "--json"]) == 0
        capsys.readouterr()
        with Reader(str(out)) as r:
            assert r.header.settings["refine"] == n
            outs[n] = [p.payload for p in r]          # the payloads (the header's stream id is random)
        assert main(["decode", str(out), "-o", str(tmp_path / f"r{n}.mkv"), "--lossless", "--no-progress"]) == 0
        capsys.readouterr()
    assert len(outs[3]) == 3 and all(a != b for a, b in zip(outs[0], outs[3]))
    assert main(["encode", clip, "-o", str(tmp_path / "x.racv"), "--model", "rand-a", "--refine", "-1"]) == 2
    assert "refine" in capsys.readouterr().err
