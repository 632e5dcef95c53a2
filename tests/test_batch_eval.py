"""rac-video batch eval: an eval config's sequences as parallel tasks (local pool); the merged results
hold the same entries (bytes, metrics) as rac-video eval in one process."""
import json

import pytest

from rac_video.cli import main
from _batch_clips import make_clip


def test_batch_eval_matches_single_process_eval(tmp_path, capsys):
    pytest.importorskip("av")
    seqs = [{"name": n, "frames": make_clip(tmp_path / n, i, frames=3, hw=(64, 80)), "fps": 25, "count": 3}
            for i, n in enumerate(("s1", "s2"))]
    cfg = {"name": "tiny", "methods": ["jpeg"], "fvvdp": False, "rates": {"bpp": [0.5, 1.5]}, "sequence": seqs}
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(cfg))
    single, batch = tmp_path / "single", tmp_path / "batch"
    assert main(["eval", str(path), "--out", str(single)]) == 0
    assert main(["batch", "eval", str(path), "--out", str(batch), "--workers", "2", "--threads", "1",
                 "--no-progress"]) == 0
    a = json.loads((single / "results.json").read_text())
    b = json.loads((batch / "results.json").read_text())

    def key(e):
        return (e["sequence"], e["method"], e["target"])

    ea, eb = sorted(a["entries"], key=key), sorted(b["entries"], key=key)
    assert [key(e) for e in ea] == [key(e) for e in eb] and len(ea) == 4
    for x, y in zip(ea, eb):
        assert x["bytes"] == y["bytes"] and x["param"] == y["param"]
        assert x["metrics"]["psnr"] == y["metrics"]["psnr"] and x["metrics"]["ms_ssim"] == y["metrics"]["ms_ssim"]
    assert (batch / "summary.csv").exists() and (batch / "batch-results.json").exists()
    # resumed: the sequences already evaluated are not run again
    capsys.readouterr()
    assert main(["batch", "eval", str(path), "--out", str(batch), "--workers", "2", "--threads", "1", "--json"]) == 0
    man = json.loads(capsys.readouterr().out)
    assert man["items_run"] == 0 and man["items_skipped"] == 2
