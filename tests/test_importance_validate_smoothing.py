"""tools/validate_smoothing.py on a synthetic jittery fixation trace."""
import importlib.util
import json
import os

import numpy as np

_TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "validate_smoothing.py")


def test_deadzone_removes_fixation_flicker(tmp_path):
    spec = importlib.util.spec_from_file_location("validate_smoothing", _TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = np.random.default_rng(0)
    rows = ["gaze 1280 720", "geometry distance 0.45 width 0.4 height 0.225"]
    for k in range(1000):  # 4 s fixation at 250 Hz with 0.15 deg jitter, one saccade at 2 s
        x = (500.0 if k < 500 else 800.0) + rng.normal(0, 4)
        rows.append(f"{1000 + 4000 * k} {x:.2f} {360 + rng.normal(0, 4):.2f} 1")
    (tmp_path / "j.coord").write_text("\n".join(rows) + "\n")
    out = tmp_path / "r.json"
    assert mod.main(["--data", str(tmp_path), "--out", str(out), "--frames", "110", "--deadzones", "0.5"]) == 0
    r = json.loads(out.read_text())["results"]
    assert r["raw"]["fix"]["frames_with_any_change"] > 0.5
    assert r["deadzone0.5"]["fix"]["frames_with_any_change"] < 0.2
    assert r["deadzone0.5"]["sacc"]["pairs"] >= 1 and r["deadzone0.5"]["sacc"]["mean_changed_cells"] > 0.1
