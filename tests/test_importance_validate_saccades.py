"""tools/validate_saccades.py on synthetic DIEM files with known saccades, and its scores."""
import importlib.util
import json
import os

import numpy as np
import pytest

from rac_video.eval.report import check_record

_TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "validate_saccades.py")


def _tool():
    spec = importlib.util.spec_from_file_location("validate_saccades", _TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_agreement_scores():
    v = _tool()
    truth = np.array([1, 1, 0, 0, 0, 0, 1, 0], bool)
    pred = np.array([1, 0, 1, 0, 0, 0, 1, 0], bool)
    a = v.agreement(pred, truth)
    assert (a["tp"], a["fp"], a["fn"], a["tn"]) == (2, 1, 1, 4)
    assert a["precision"] == pytest.approx(2 / 3, abs=1e-4) and a["recall"] == pytest.approx(2 / 3, abs=1e-4)
    # kappa = (po - pe) / (1 - pe), po = 6/8, pe = (3*3 + 5*5)/64
    assert a["kappa"] == pytest.approx((0.75 - 34 / 64) / (1 - 34 / 64), abs=1e-4)
    assert v.agreement(truth, truth)["kappa"] == 1.0


def test_tool_on_synthetic_diem(tmp_path):
    d = tmp_path / "diem" / "clip_640x480" / "event_data"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for s in range(2):
        rows, x = [], 200.0
        for i in range(1, 301):
            sacc = i % 30 == 0  # a 5-degree jump labelled on the frame where it lands
            if sacc:
                x = 200.0 if x > 300 else 450.0
            lx = x + rng.normal(0, 0.3)
            rows.append(f"{i}\t{lx:.1f}\t240.0\t1500.0\t{2 if sacc else 1}\t{lx:.1f}\t240.0\t1700.0\t1\n")
        (d / f"diem5s0{s}.asc_1_clip_640x480.txt").write_text("".join(rows))
    out = tmp_path / "r.json"
    rc = _tool().main(["--data", str(tmp_path / "diem"), "--out", str(out), "--ppd", "50", "--sweep", "30"])
    assert rc == 0
    r = check_record(json.loads(out.read_text()))
    assert r["machine"]["numpy"] and r["data"]["files"] == 2 and r["data"]["samples"] == 600
    assert r["default"]["kappa"] == 1.0 and r["default"]["f1"] == 1.0
    assert {row["mode"] for row in r["sweep"]} == {"backward", "either", "central"}


def test_tool_no_data(tmp_path):
    assert _tool().main(["--data", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
