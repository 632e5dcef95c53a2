"""tools/cross_device.py: encode on one arithmetic, decode on the other, count what fails (CPU stand-in)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import cross_device  # noqa: E402

from rac_video import arith  # noqa: E402
from rac_video.codec import weights  # noqa: E402
from rac_video.eval.report import check_record  # noqa: E402


def test_cpu_vs_cpu_native_report(tmp_path):
    if weights.DEFAULT_MODEL not in weights.available():
        pytest.skip("shipped weights not installed")
    out = tmp_path / "x.json"
    assert cross_device.main(["--a", "cpu", "--b", "cpu-native", "--images", str(tmp_path / "none"), "--count", "1",
                              "--qualities", "4,15", "--crop", "64", "--speed", "64x48", "--speed-repeats", "1",
                              "--out", str(out)]) == 0
    r = check_record(json.loads(out.read_text()))
    assert r["model"] == weights.DEFAULT_MODEL and "gpu" not in r["machine"]     # CPU only: no GPU named
    assert r["images"].startswith("synthetic") and r["files"] == 2 and len(r["rows"]) == 2
    assert r["arith"] == {"a": arith.arith_class("cpu"), "b": "cpu-native-" + r["arith"]["a"].split("-", 2)[2]}
    for row in r["rows"]:    # every file is accounted for, whatever the outcome
        assert row["a_on_b"] in ("ok", "different", "fail") and row["b_on_a"] in ("ok", "different", "fail")
        assert row["bytes_a"] > 0 and row["bytes_b"] > 0 and (row["bytes_a"] == row["bytes_b"] or not row["identical_bytes"])
    assert r["a_encoded_b_decode_fail"] == sum(x["a_on_b"] == "fail" for x in r["rows"])
    assert r["speed"]["size"] == "64x48" and r["speed"]["encode_ms"] > 0 and r["speed"]["decode_ms"] > 0


def test_bad_arguments_exit_2(capsys):
    import torch

    assert cross_device.main(["--qualities", "a,b"]) == 2
    assert cross_device.main(["--speed", "12"]) == 2
    if not torch.cuda.is_available():
        assert cross_device.main(["--a", "cuda", "--speed", "0"]) == 2
        assert "no GPU" in capsys.readouterr().err
