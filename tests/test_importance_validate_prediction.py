"""tools/validate_prediction.py on a synthetic smooth-pursuit trace: prediction must beat holding."""
import importlib.util
import json
import os

_TOOL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "validate_prediction.py")


def test_prediction_beats_hold_on_pursuit(tmp_path):
    spec = importlib.util.spec_from_file_location("validate_prediction", _TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = ["gaze 1280 720", "geometry distance 0.45 width 0.4 height 0.225"]
    for k in range(2000):  # 8 s at 250 Hz, pursuit at ~6 deg/s back and forth
        t = k * 0.004
        x = 640 + 300 * ((t % 4) / 2 if (t % 4) < 2 else (4 - t % 4) / 2) - 150
        rows.append(f"{int(t * 1e6) + 1000} {x:.2f} 360 1")
    (tmp_path / "p.coord").write_text("\n".join(rows) + "\n")
    out = tmp_path / "r.json"
    assert mod.main(["--data", str(tmp_path), "--out", str(out), "--latency-ms", "100"]) == 0
    r = json.loads(out.read_text())["rows"][0]
    assert r["frames_ahead"] == 3
    assert r["predict"]["median_deg"] < 0.5 * r["hold"]["median_deg"]
    assert r["hold"]["median_deg"] > 0.3  # 100 ms behind a 6 deg/s pursuit
