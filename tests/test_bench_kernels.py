"""The kernel benchmark runs end to end on a tiny size and writes a complete report."""
import json

from rac_video.bench import kernels


def test_bench_kernels_writes_report(tmp_path):
    out = tmp_path / "k.json"
    assert kernels.main(["--sizes", "1x2x3x5", "--repeats", "1", "--min-time", "0.001", "--copy-mib", "1",
                         "--devices", "cpu", "--out", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["machine"]["cpu_model"] and rep["machine"]["torch"]
    assert rep["copy_bandwidth"]["cpu"]["bytes_per_s"] > 0
    ops = {r["op"] for r in rep["results"]}
    assert ops == {"quantize", "dequantize", "hashed_dither", "ddim_step", "forward_noise[hashed U]",
                   "forward_noise[given U]", "gamma_embedding"}
    timed = [r for r in rep["results"] if "skipped" not in r]
    assert {r["backend"] for r in timed} >= {"torch"}
    for r in timed:
        assert r["median_s"] > 0 and r["bytes_per_s"] > 0 and r["speedup_vs_torch"] > 0
        # integer ops are bit-exact, float ops within float32 rounding of the reference
        assert r["max_abs_diff_vs_torch"] <= (0 if r["op"] in ("quantize", "hashed_dither") else 1e-4)
    assert all(r["skipped"] for r in rep["results"] if "skipped" in r)
