"""The kernel benchmark runs end to end on a tiny size and writes a complete report."""
import json

from rac_video.bench import kernels
from rac_video.eval.report import check_record


def test_bench_kernels_writes_report(tmp_path):
    out = tmp_path / "k.json"
    assert kernels.main(["--sizes", "1x2x3x5", "--repeats", "1", "--min-time", "0.001", "--copy-mib", "1",
                         "--devices", "cpu", "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    check_record(rep)
    assert rep["command"].startswith("rac-video bench kernels --sizes 1x2x3x5") and rep["model"] is None
    assert rep["machine"]["cpu"] and rep["machine"]["torch"] and "omp_threads_C" in rep["machine"]
    assert rep["copy_bandwidth"]["cpu"]["bytes_per_s"] > 0
    ops = {r["op"] for r in rep["results"]}
    assert ops == {"quantize", "dequantize", "hashed_dither", "ddim_step", "forward_noise[hashed U]",
                   "forward_noise[given U]", "gamma_embedding", "entropy_params"}
    timed = [r for r in rep["results"] if "skipped" not in r]
    assert {r["backend"] for r in timed} >= {"torch"}
    for r in timed:
        assert r["median_s"] > 0 and r["bytes_per_s"] > 0 and r["speedup_vs_torch"] > 0
        assert r["of_same_bytes_copy"] > 0 and r["same_bytes_copy_s"] > 0
        # integer ops are bit-exact, float ops within float32 rounding of the reference
        assert r["max_abs_diff_vs_torch"] <= (0 if r["op"] in ("quantize", "hashed_dither", "entropy_params") else 1e-4)
    assert all(r["skipped"] for r in rep["results"] if "skipped" in r)
    s = rep["summary"]["cpu"]
    assert s["shape"] == [1, 2, 3, 5] and not s["errors"] and set(s["best"]) == ops
    assert s["min_of_copy_bandwidth"] == min(b["of_copy_bandwidth"] for b in s["best"].values()) > 0
    assert s["min_of_same_bytes_copy"] == min(b["of_same_bytes_copy"] for b in s["best"].values()) > 0


def test_bench_kernels_thread_list_and_op_filter(tmp_path):
    out = tmp_path / "k.json"
    assert kernels.main(["--sizes", "1x2x3x5", "--repeats", "1", "--min-time", "0.001", "--copy-mib", "1",
                         "--devices", "cpu", "--threads", "1,all", "--ops", "quantize", "--backends", "cpu",
                         "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert {r["op"] for r in rep["results"]} == {"quantize"} and {r["backend"] for r in rep["results"]} <= {"cpu"}
    assert {r["threads"] for r in rep["results"]} == set(rep["settings"]["threads"]) and rep["settings"]["threads"][0] == 1


def test_a_failing_backend_is_recorded_and_the_rest_still_measured(tmp_path, monkeypatch):
    """On the H200 one rejected ``out`` tensor stopped the whole benchmark after its first op."""
    from rac_video import ops

    def broken(*a, **kw):
        raise ValueError("out must be a contiguous tensor on cuda")

    monkeypatch.setitem(ops.hashed_dither.impls, "cpu", broken)
    out = tmp_path / "k.json"
    assert kernels.main(["--sizes", "1x2x3x5", "--repeats", "1", "--min-time", "0.001", "--copy-mib", "1",
                         "--devices", "cpu", "--out", str(out)]) == 1
    rep = json.loads(out.read_text())
    bad = [r for r in rep["results"] if "error" in r]
    assert [(r["op"], r["backend"]) for r in bad] == [("hashed_dither", "cpu")] and "on cuda" in bad[0]["error"]
    assert any(r["op"] == "gamma_embedding" and "bytes_per_s" in r for r in rep["results"])   # ran after it
    assert rep["summary"]["cpu"]["errors"] and "hashed_dither" not in rep["summary"]["cpu"]["best"]
