import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from rac_video.cli import main
from rac_video.eval import run as R
from rac_video.eval.sources import SourceError, load_sequence

H, W, T = 176, 208, 5


def _write_clip(root):
    rng = np.random.default_rng(0)
    fdir, mdir = root / "frames", root / "masks"
    fdir.mkdir()
    mdir.mkdir()
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([128 + 60 * np.sin(xx / 6.0), 128 + 50 * np.cos(yy / 9.0), (2 * xx + yy) % 256], -1)
    for t in range(T):
        f = np.clip(np.roll(base, 3 * t, axis=1) + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(f).save(fdir / f"{t:05d}.png")
        m = np.zeros((H, W), np.uint8)
        m[40:120, 30 + 4 * t : 110 + 4 * t] = 255
        Image.fromarray(m).save(mdir / f"{t:05d}.png")
    return fdir, mdir


def _config(fdir, mdir, **kw):
    return {"name": "tiny", "methods": ["x264-roi", "x264", "jpeg"], "fvvdp": False, "rates": {"bpp": [0.3, 0.8]},
            "sequence": [{"name": "tiny", "frames": str(fdir), "fps": 25, "count": 4,
                          "importance": {"type": "masks", "dir": str(mdir)}}], **kw}


def test_load_sequence_masks_and_stride(tmp_path):
    fdir, mdir = _write_clip(tmp_path)
    seq = load_sequence({"frames": str(fdir), "fps": 30, "stride": 2, "importance": {"type": "masks", "dir": str(mdir)}})
    assert seq.frames.shape == (3, H, W, 3) and seq.frame_indices == [0, 2, 4] and seq.fps == 15
    assert seq.importance.shape == (3, H, W) and set(np.unique(seq.importance)) == {0.0, 1.0}
    assert seq.importance[1, 50, 40 + 8] == 1 and seq.importance[1, 10, 10] == 0
    np.testing.assert_allclose(seq.fixations[0], [70.0, 80.0], atol=0.01)
    with pytest.raises(SourceError):
        load_sequence({"frames": str(fdir), "importance": {"type": "psychic"}})
    with pytest.raises(SourceError):
        load_sequence({"frames": str(tmp_path / "nope")})


def test_run_config_writes_results_and_bdrates(tmp_path):
    fdir, mdir = _write_clip(tmp_path)
    out = tmp_path / "out"
    res = R.run_config(_config(fdir, mdir), out_dir=str(out), log=lambda *a: None)
    assert {e["method"] for e in res["entries"]} == {"x264-roi", "x264", "jpeg"}
    for e in res["entries"]:
        assert e["metrics"]["frames"] == 4 and e["metrics"]["bytes"] == e["bytes"]
        if e["method"].startswith("x264"):
            assert e["matched"] and abs(e["rel_error"]) <= 0.02
    saved = json.loads((out / "results.json").read_text())
    assert saved["environment"]["pyav"] and saved["sequences"]["tiny"]["frames"] == 4
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert len(rows) == 6 and float(rows[0]["bpp"]) > 0
    # ROI encoding puts quality in the masked region: ROI PSNR better than without ROI at the same rate
    by = {(e["method"], e["target"]): e["metrics"] for e in res["entries"]}
    assert by[("x264-roi", "bpp0.3")]["psnr_roi"] > by[("x264", "bpp0.3")]["psnr_roi"]
    bd = {r["anchor"]: r for r in res["bdrate"]}
    assert bd["x264"]["reference"] == "x264-roi" and bd["x264"]["psnr_roi"] < 0
    assert "ours" in res["skipped"] or "ours" not in res["methods"]
    assert "| tiny |" in R.summary_table(res) and "x264-roi vs x264" in R.bd_markdown(res)


def test_cli_eval_with_input_and_markdown(tmp_path, capsys):
    fdir, mdir = _write_clip(tmp_path)
    out = tmp_path / "cli"
    rc = main(["eval", "--input", str(fdir), "--masks", str(mdir), "--frames", "3", "--methods", "x264-roi,jpeg",
               "--bpp", "0.5", "--no-fvvdp", "--out", str(out), "--markdown"])
    assert rc == 0
    assert os.path.exists(out / "results.json") and "x264-roi" in capsys.readouterr().out
    bench = tmp_path / "bench"
    assert main(["eval", "--input", str(fdir), "--frames", "2", "--methods", "jpeg", "--bpp", "0.5,1.0",
                 "--no-fvvdp", "--out", str(out), "--bench", str(bench)]) == 0
    assert sorted(os.listdir(bench)) == ["README.md", "bdrate.csv", "summary.csv", "summary.json"]
    readme = (bench / "README.md").read_text()
    assert "rac-video eval --input" in readme and "--bpp 0.5,1.0" in readme and "| jpeg |" in readme
    assert main(["eval", "--out", str(out)]) == 2  # neither a config nor --input


def test_config_file_and_data_placeholder(tmp_path, monkeypatch):
    fdir, mdir = _write_clip(tmp_path)
    monkeypatch.setenv("RAC_VIDEO_DATA", str(tmp_path))
    p = tmp_path / "c.toml"
    p.write_text('name = "t"\n[[sequence]]\nframes = "{data}/frames"\nimportance = { type = "masks", dir = "masks" }\n')
    cfg = R.load_config(str(p))
    assert cfg["sequence"][0]["frames"] == str(fdir)
    assert cfg["sequence"][0]["importance"]["dir"] == str(mdir)
    with pytest.raises(R.EvalConfigError):
        R.run_config({"name": "x"}, out_dir=str(tmp_path / "o"))


def test_sidebyside_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    import av

    from rac_video.eval.plots import plot_results
    from rac_video.eval.sidebyside import write_sidebyside

    fdir, mdir = _write_clip(tmp_path)
    seq = load_sequence({"frames": str(fdir), "importance": {"type": "masks", "dir": str(mdir)}})
    p = write_sidebyside(str(tmp_path / "s.mp4"), seq.frames, seq.frames, None, seq.importance, fps=25)
    with av.open(p) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == T and frames[0].shape == (H, 3 * W, 3)
    res = R.run_config(_config(fdir, mdir, methods=["x264", "jpeg"]), out_dir=str(tmp_path / "o"), log=lambda *a: None)
    paths = plot_results(res, str(tmp_path / "o"))
    assert paths and all(os.path.getsize(x) > 1000 for x in paths)


def _write_coord(path, n=400):
    # 250 Hz GazeCom-style trace on a 1280x720 screen: fixation at (320, 180) from the top-left
    # (stored bottom-up: y = 720 - 1 - 180), then a jump to (960, 540), one invalid stretch
    lines = ["gaze 1280 720", "geometry distance 0.45 width 0.4 height 0.225"]
    for i in range(n):
        t_us = 1000 + 4000 * i
        x, y = (320.0, 180.0) if i < n // 2 else (960.0, 540.0)
        ok = not (150 <= i < 170)
        lines.append(f"{t_us} {x if ok else 0} {719 - y if ok else 0} {1 if ok else 0}")
    path.write_text("\n".join(lines) + "\n")


def test_gaze_sequence(tmp_path):
    fdir, _ = _write_clip(tmp_path)
    coord = tmp_path / "S_movie.coord"
    _write_coord(coord)
    # 5 frames at 5 fps = 1 s; the trace switches at 0.8 s
    seq = load_sequence({"frames": str(fdir), "fps": 5, "importance": {"type": "gaze", "trace": str(coord)}})
    fx = seq.fixations
    assert fx.shape == (5, 2)
    np.testing.assert_allclose(fx[0], [320 * W / 1280, 180 * H / 720], atol=1.0)
    np.testing.assert_allclose(fx[4], [960 * W / 1280, 540 * H / 720], atol=1.0)
    imp = seq.importance
    assert imp.shape == (5, H, W) and imp.max() <= 1 and imp.min() >= 0
    y0, x0 = int(fx[0, 1]), int(fx[0, 0])
    assert imp[0, y0, x0] > 0.9 and imp[0, H - 5, W - 5] < imp[0, y0, x0]
    assert seq.info["gaze_valid_frames"] == 5
    bad = tmp_path / "bad.coord"
    bad.write_text("hello\n1 2 3\n")
    with pytest.raises(ValueError):
        load_sequence({"frames": str(fdir), "importance": {"type": "gaze", "trace": str(bad)}})


def test_cli_sequences_subset(tmp_path):
    fdir, mdir = _write_clip(tmp_path)
    cfg = tmp_path / "two.toml"
    cfg.write_text('name = "two"\nmethods = ["jpeg"]\nfvvdp = false\n[rates]\nbpp = [0.5, 1.0]\n'
                   f'[[sequence]]\nname = "a"\nframes = "{fdir}"\ncount = 2\n'
                   f'[[sequence]]\nname = "b"\nframes = "{fdir}"\ncount = 2\nstart = 1\n')
    bench = tmp_path / "bench"
    assert main(["eval", str(cfg), "--sequences", "b", "--out", str(tmp_path / "o"), "--bench", str(bench)]) == 0
    summ = json.loads((bench / "summary.json").read_text())
    assert {e["sequence"] for e in summ["entries"]} == {"b"}
    readme = (bench / "README.md").read_text()
    assert "--sequences b" in readme and "subset of the config's sequences: b" in readme
    assert main(["eval", str(cfg), "--sequences", "c", "--out", str(tmp_path / "o")]) == 2
