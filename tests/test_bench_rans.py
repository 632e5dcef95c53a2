"""rac-video bench rans runs end to end on a small problem and writes its JSON."""
import json

import pytest

from rac_video import _native
from rac_video.eval.report import check_record

pytestmark = pytest.mark.skipif(_native.cpu_module()[0] is None, reason="C++ module not built")


def test_bench_rans_small(tmp_path):
    from rac_video.bench import rans

    out = tmp_path / "rans.json"
    assert rans.main(["--symbols", "20000", "--repeats", "1", "--threads", "1", "2", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    r = res["rans"]
    assert r["symbols"] >= 20000 and set(r["threads"]) == {"1", "2"}
    assert 0 < r["overhead_vs_integer_tables_pct"] < 5  # small problem: the flushed states weigh more
    assert r["model_bytes_exact_scales"] < r["ideal_bytes_integer_tables"] < r["bytes"]
    cpu = res["entropy_params"]["cpu"]
    assert cpu["cpu"]["params_s"] > 0 and "skipped" in cpu["cuda"]
    ext = res["external"]  # compressai / constriction: measured or skipped with a reason, never a crash
    for name in ("compressai_rans", "compressai_gaussian_conditional", "constriction_ans"):
        e = ext.get(name, ext)
        assert "encode_s" in e or e.get("skipped")
    check_record(res)
    assert res["machine"]["host"] and res["command"].startswith("rac-video bench rans --symbols 20000")
