"""rac_video.eval.report: the one record schema of every JSON a tool leaves under benchmarks/."""
import ast
import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from rac_video.codec import weights
from rac_video.eval.report import (MACHINE_KEYS, RECORD_KEYS, benchmark_record, check_record, command_line,
                                   machine_record, write_record, write_report)

ROOT = Path(__file__).resolve().parents[1]


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------------------------- the schema
def test_record_without_a_model_has_every_key(tmp_path):
    rec = write_report(tmp_path / "sub" / "r.json", "tools/x.py", ["--a", "1"], None, rows=[1, 2])
    assert list(rec)[:4] == list(RECORD_KEYS) and rec["rows"] == [1, 2]
    assert rec["command"] == "python tools/x.py --a 1" and rec["model"] is None and rec["weights_sha256"] is None
    assert set(MACHINE_KEYS) <= set(rec["machine"]) and rec["machine"]["cores"] >= 1 and rec["machine"]["cpu"]
    assert json.loads((tmp_path / "sub" / "r.json").read_text()) == rec


def test_model_from_a_loaded_codec_or_an_installed_name():
    codec = SimpleNamespace(name="m-1", weights_hash="ab" * 32)
    rec = benchmark_record("tools/x.py", [], codec)
    assert (rec["model"], rec["weights_sha256"]) == ("m-1", "ab" * 32) and rec["command"] == "python tools/x.py"
    name = weights.DEFAULT_MODEL          # a name: the hash from its record, the weights are not loaded
    rec = benchmark_record("rac-video bench x", ["--n", "3"], name)
    assert rec["model"] == name and rec["weights_sha256"] == weights.read_record(name)["sha256"]
    assert rec["command"] == "rac-video bench x --n 3"
    with pytest.raises(TypeError, match="codec must be"):
        benchmark_record("tools/x.py", [], 3)
    with pytest.raises(weights.ModelMismatchError, match="no record"):
        benchmark_record("tools/x.py", [], "no-such-model")


def test_command_defaults_to_sys_argv(monkeypatch):
    monkeypatch.setattr("sys.argv", ["prog", "--q", "8"])
    assert command_line("tools/y.py") == "python tools/y.py --q 8"


def test_machine_block_is_defined_once():
    m = machine_record(gpu=False, loadavg=[1.0])
    assert list(m)[:len(MACHINE_KEYS)] == list(MACHINE_KEYS) and m["loadavg"] == [1.0] and "gpu" not in m
    with pytest.raises(ValueError, match="host is part of the common machine block"):
        machine_record(host="other")      # a tool adds entries, it does not redefine the common ones
    with pytest.raises(ValueError, match="model is set by the record itself"):
        benchmark_record("tools/x.py", [], None, model="m")
    import torch

    if torch.cuda.is_available():
        assert machine_record(gpu=True)["gpu"] == torch.cuda.get_device_name(0)


@pytest.mark.parametrize("bad, why", [
    ([], "JSON object"),
    ({"command": "x", "model": None, "weights_sha256": None}, "without machine"),
    ({"command": "", "model": None, "weights_sha256": None, "machine": {}}, "command must be"),
    ({"command": "x", "model": "m", "weights_sha256": None, "machine": {}}, "come together"),
    ({"command": "x", "model": 1, "weights_sha256": "h", "machine": {}}, "model must be"),
    ({"command": "x", "model": None, "weights_sha256": None, "machine": {"host": "h"}}, "machine must hold"),
])
def test_bad_records_are_refused_and_not_written(tmp_path, bad, why):
    with pytest.raises(ValueError, match=why):
        write_record(tmp_path / "r.json", bad)
    assert not (tmp_path / "r.json").exists()


# ------------------------------------------------------------------------------ the cheap writers, for real
def _gaze_trace(folder: Path, seed: int):
    rng = np.random.default_rng(seed)
    rows = ["gaze 1280 720", "geometry distance 0.45 width 0.4 height 0.225"]
    for k in range(600):                   # 2.4 s at 250 Hz: a fixation, a saccade, a fixation
        rows.append(f"{1000 + 4000 * k} {(500.0 if k < 300 else 800.0) + rng.normal(0, 4):.2f} "
                    f"{360 + rng.normal(0, 4):.2f} 1")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.coord").write_text("\n".join(rows) + "\n")


WRITERS = {
    "bench_io": lambda d: ["--data", str(d / "none")],                 # the container part only
    "validate_smoothing": lambda d: ["--data", str(d), "--frames", "60", "--deadzones", "0.5"],
    "validate_prediction": lambda d: ["--data", str(d), "--latency-ms", "100"],
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_cheap_writers_leave_records(tmp_path, name):
    _gaze_trace(tmp_path, 0)
    out = tmp_path / "out" / "r.json"
    argv = WRITERS[name](tmp_path) + ["--out", str(out)]
    assert _tool(name).main(argv) == 0
    rec = check_record(json.loads(out.read_text()))
    assert rec["command"] == " ".join(["python", f"tools/{name}.py", *argv])
    assert rec["model"] is None and rec["machine"]["torch"]


# ----------------------------------------- no writer under tools/ or rac_video/bench bypasses the schema
def json_writes(source: str) -> list[int]:
    """Lines of ``source`` that write JSON to a file by hand: json.dump(...), or .write / .write_text of
    json.dumps(...) directly or through a variable assigned from it."""
    tree = ast.parse(source)

    def dumps(node):
        return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "dumps"
                   and isinstance(n.func.value, ast.Name) and n.func.value.id == "json" for n in ast.walk(node))

    texts = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and dumps(n.value)
             for t in n.targets if isinstance(t, ast.Name)}
    lines = []
    for n in ast.walk(tree):
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
            continue
        f = n.func
        if f.attr == "dump" and isinstance(f.value, ast.Name) and f.value.id == "json":
            lines.append(n.lineno)
        elif f.attr in ("write", "write_text") and n.args and (
                dumps(n.args[0]) or any(isinstance(a, ast.Name) and a.id in texts for a in ast.walk(n.args[0]))):
            lines.append(n.lineno)
    return sorted(lines)


def writes_under_benchmarks(source: str) -> bool:
    """Does the code (docstrings aside) name a path under benchmarks/?"""
    tree = ast.parse(source)
    docs = {id(b.body[0].value) for b in ast.walk(tree)
            if isinstance(b, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and b.body
            and isinstance(b.body[0], ast.Expr) and isinstance(b.body[0].value, ast.Constant)}
    return any(isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
               and (n.value == "benchmarks" or n.value.startswith("benchmarks/")) for n in ast.walk(tree))


def test_the_scanner_finds_hand_rolled_writers():
    bad = ("import json\n"
           "def a(p, r):\n    json.dump(r, open(p, 'w'))\n"
           "def b(p, r):\n    p.write_text(json.dumps(r, indent=1) + '\\n')\n"
           "def c(f, r):\n    text = json.dumps(r)\n    f.write(text + '\\n')\n")
    assert json_writes(bad) == [3, 5, 8]
    good = ("import json\nfrom rac_video.eval.report import write_report\n"
            "def a(p, r):\n    write_report(p, 'tools/a.py', None, None, **r)\n    print(json.dumps(r))\n")
    assert json_writes(good) == []
    assert writes_under_benchmarks("import os\nOUT = os.path.join('benchmarks', 'x.json')\n")
    assert not writes_under_benchmarks('"""writes benchmarks/x.json"""\nOUT = "results/x.json"\n')


def _writers():
    files = sorted((ROOT / "tools").glob("*.py")) + sorted((ROOT / "rac_video" / "bench").glob("*.py"))
    assert len(files) > 20
    return files


@pytest.mark.parametrize("path", _writers(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_json_writer_bypasses_the_record(path):
    source = path.read_text()
    hand = json_writes(source)
    assert not hand, (f"{path.relative_to(ROOT)} writes JSON by hand at line(s) {hand}: use "
                      f"rac_video.eval.report.write_report / write_record (one schema for benchmarks/)")
    if writes_under_benchmarks(source):
        assert any(w in source for w in ("write_report(", "write_record(")), \
            f"{path.relative_to(ROOT)} names a path under benchmarks/ but writes no record"
