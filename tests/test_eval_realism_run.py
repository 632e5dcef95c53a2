"""Realism in eval runs: the ours-realism method (same bitstreams as ours, another decode), the realism
columns and report section, the issue-25 checks — against a fake codec with a realism decode."""
import csv
import os
import sys
import types

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
pytest.importorskip("rac_video.importance.sideinfo")
from test_eval_ours import _Codec  # noqa: E402
from test_eval_run import _config, _write_clip  # noqa: E402

from rac_video.eval import realism_report as RR  # noqa: E402
from rac_video.eval import run as R  # noqa: E402


class _RealismCodec(_Codec):
    """The fake codec plus a decoder-side realism ρ: seeded texture where the level map is low."""

    def decode_frame(self, payload, levels, quality, *, seed, dither_frame=0, height, width, steps=None, realism=0.0):
        rec = super().decode_frame(payload, levels, quality, seed=seed, dither_frame=dither_frame, height=height,
                                   width=width, steps=steps)
        if not realism:
            return rec
        w = realism * (1 - np.repeat(np.repeat(levels, 8, 0), 8, 1)[:height, :width, None] / 15.0)
        n = np.random.default_rng(seed).normal(0, 12, rec.shape)
        return np.clip(rec + w * n, 0, 255).astype(np.uint8)


def _fake(monkeypatch, codec_cls):
    from rac_video.codec import inter     # the real sequence coder, around the fake frame codec

    codec = types.ModuleType("rac_video.codec")
    codec.load_model = lambda name="default": codec_cls()
    codec.inter = inter
    sched = types.ModuleType("rac_video.schedule")
    sched.Q_MAX = 63
    for name, mod in [("rac_video.codec", codec), ("rac_video.schedule", sched)]:
        monkeypatch.setitem(sys.modules, name, mod)


def test_ours_realism_same_bytes_other_picture(monkeypatch, tmp_path):
    _fake(monkeypatch, _RealismCodec)
    fdir, mdir = _write_clip(tmp_path)
    cfg = _config(fdir, mdir, methods=["ours", "ours-realism", "x264-roi"], rates={"qualities": [30, 50]},
                  realism={"rho": 0.8})
    out = tmp_path / "o"
    res = R.run_config(cfg, out_dir=str(out), log=lambda *a: None)
    by = {(e["method"], e["target"]): e for e in res["entries"]}
    assert res["methods"]["ours-realism"]["realism"] == 0.8 and res["methods"]["ours"]["realism"] == 0.0
    for q in ("q30", "q50"):
        fid, real = by[("ours", q)], by[("ours-realism", q)]
        assert real["bytes"] == fid["bytes"] and real["matched"]          # one bitstream, two decodes
        fm, rm = fid["metrics"], real["metrics"]
        # the realism decode adds texture where the map is low, not in the ROI (the masks' level 15)
        assert rm["hf_ratio_bg"] > fm["hf_ratio_bg"] and rm["psnr_bg"] < fm["psnr_bg"]
        assert rm["psnr_roi"] == pytest.approx(fm["psnr_roi"], abs=0.05)
        for k in RR.CSV_KEYS:
            assert fm[k] is not None and np.isfinite(fm[k]), k
        assert by[("x264-roi", q)]["target_bytes"] == fid["bytes"]
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert {"swd_bg", "swd_roi", "hf_ratio_bg", "block_colour_max_all"} <= set(rows[0])
    assert all(r["swd_bg"] for r in rows)
    checks = RR.realism_checks(res)
    kinds = {(c["target"], c["check"]) for c in checks}
    assert {("q30", "swd_bg"), ("q30", "psnr_roi"), ("q30", "colour ours"), ("q50", "colour ours-realism")} <= kinds
    psnr_check = next(c for c in checks if c["check"] == "psnr_roi" and c["target"] == "q30")
    assert psnr_check["ok"] and abs(psnr_check["values"][0]) < 0.05
    md = R.report_markdown(res)
    assert "Rate–distortion–realism" in md and "| ours-realism | q30 |" in md and "background SWD" in md


def test_ours_realism_skipped_without_a_realism_decoder(monkeypatch, tmp_path):
    _fake(monkeypatch, _Codec)   # decode_frame has no realism argument
    fdir, mdir = _write_clip(tmp_path)
    cfg = _config(fdir, mdir, methods=["ours", "ours-realism"], rates={"qualities": [40]})
    res = R.run_config(cfg, out_dir=str(tmp_path / "o"), log=lambda *a: None)
    assert "realism control" in res["skipped"]["ours-realism"]
    assert {e["method"] for e in res["entries"]} == {"ours"}


def test_realism_metrics_can_be_left_out(tmp_path):
    fdir, mdir = _write_clip(tmp_path)
    cfg = _config(fdir, mdir, methods=["jpeg"], rates={"bpp": [0.5]}, realism={"metrics": False})
    res = R.run_config(cfg, out_dir=str(tmp_path / "o"), log=lambda *a: None)
    assert "swd_bg" not in res["entries"][0]["metrics"]
    assert RR.realism_markdown(res) == "(no realism metrics in this run)"


def test_cli_realism_option(tmp_path):
    from rac_video.cli import main

    fdir, mdir = _write_clip(tmp_path)
    assert main(["eval", "--input", str(fdir), "--methods", "jpeg", "--realism", "1.5", "--out", str(tmp_path)]) == 2
