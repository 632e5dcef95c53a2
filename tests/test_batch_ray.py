"""rac-video batch on a real local Ray cluster (ray.init(num_cpus=2)): the same bytes as the local engine
and the single command, a failing item reported, resume. Skips only where Ray is not installed."""
import json
import os

import pytest

ray = pytest.importorskip("ray", reason="Ray not installed (pip install 'ray[default]' or the rac_video[ray] extra)")

from rac_video.cli import main  # noqa: E402
from _batch_clips import make_clip, same_stream  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    from rac_video.codec import weights

    if weights.DEFAULT_MODEL not in weights.available():
        pytest.skip("shipped weights not installed")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_batch_encode_on_ray_matches_single_command(cluster, tmp_path, capsys):
    assert ray.cluster_resources().get("CPU") == 2
    a = make_clip(tmp_path / "clips" / "a", 3)
    b = make_clip(tmp_path / "clips" / "b", 4)
    (tmp_path / "m.csv").write_text(f"input,quality\n{a},7\n{b},4\n{tmp_path / 'nope'},4\n")
    out = str(tmp_path / "out")
    # the engine uses the cluster this process is connected to (as with --address auto)
    rc = main(["batch", "encode", "--manifest", str(tmp_path / "m.csv"), "-o", out, "--engine", "ray",
               "--workers", "2", "--threads", "1", "--fps", "25", "--json"])
    out_text = capsys.readouterr().out
    assert rc == 2, out_text                                         # the missing input
    man = json.loads(out_text[out_text.index("{"):])
    assert man["engine"]["engine"] == "ray" and man["engine"]["cluster_cpus"] == 2
    rows = {r["id"]: r for r in man["items"]}
    assert rows["nope"]["status"] == "failed" and rows["a"]["status"] == rows["b"]["status"] == "ok"
    assert rows["a"]["pid"] != os.getpid()                           # ran in a Ray worker
    for rid, src, q in (("a", a, "7"), ("b", b, "4")):
        ref = str(tmp_path / f"{rid}.racv")
        assert main(["encode", src, "-o", ref, "-q", q, "--fps", "25", "--no-progress"]) == 0
        assert same_stream(ref, rows[rid]["output"]), rid
    assert ray.is_initialized()                                      # not shut down: it was not ours
    # resume on Ray: only the failed item runs again
    capsys.readouterr()
    rc = main(["batch", "encode", "--manifest", str(tmp_path / "m.csv"), "-o", out, "--engine", "ray",
               "--workers", "2", "--threads", "1", "--fps", "25", "--json"])
    man = json.loads(capsys.readouterr().out)
    assert rc == 2 and man["items_run"] == 1
    # decode on Ray: the bytes of rac-video decode
    dec = str(tmp_path / "dec")
    assert main(["batch", "decode", rows["a"]["output"], "-o", dec, "--engine", "ray", "--no-progress"]) == 0
    ref = str(tmp_path / "a.mp4")
    assert main(["decode", rows["a"]["output"], "-o", ref, "--no-progress"]) == 0
    with open(ref, "rb") as f1, open(os.path.join(dec, "a.mp4"), "rb") as f2:
        assert f1.read() == f2.read()
