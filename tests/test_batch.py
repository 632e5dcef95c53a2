"""rac-video batch on the local engine (a real process pool): outputs byte-identical to the single
commands, per-item importance from a manifest, one item per viewer, resume, a failing item."""
import csv
import json
import os

import pytest

from rac_video.cli import main
from _batch_clips import make_clip, make_gaze, same_stream

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from rac_video.codec import weights

    if weights.DEFAULT_MODEL not in weights.available():
        pytest.skip("shipped weights not installed")
    d = tmp_path_factory.mktemp("batch")
    a = make_clip(d / "clips" / "a", 1)
    b = make_clip(d / "clips" / "b", 2)
    g1 = make_gaze(d / "v1.csv", 10, 10)
    g2 = make_gaze(d / "v2.csv", 50, 30)
    man = d / "clips.csv"
    with open(man, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["input", "importance", "quality", "display"])
        w.writerow(["clips/a", "gaze:v1.csv,v2.csv", "8", "0.4,64,48,0.45"])
        w.writerow(["clips/b", "boxes:0,0,32,24", "5", ""])
    return d, a, b, g1, g2, str(man)


def _bytes(p):
    with open(p, "rb") as f:
        return f.read()


def _frames(path):
    from rac_video.io import open_video

    return [f.tobytes() for _, _, f in open_video(path)]


def _rows(path):
    with open(path) as f:
        return {r["id"]: r for r in json.load(f)["items"]}


def test_batch_encode_decode_identical_to_single_commands_and_resumes(clips, capsys):
    d, a, b, g1, g2, man = clips
    out = str(d / "out")
    assert main(["batch", "encode", "--manifest", man, "--per-viewer", "-o", out, "--fps", "25",
                 "--workers", "2", "--threads", "1", "--no-progress"]) == 0
    rows = _rows(os.path.join(out, "batch-results.json"))
    assert set(rows) == {"a.v1", "a.v2", "b"} and all(r["status"] == "ok" for r in rows.values())
    assert os.path.exists(os.path.join(out, "batch-results.csv"))
    # the single commands with the same settings write the same stream (its random stream id aside)
    single = {"a.v1": ["--gaze", g1, "--display", "0.4,64,48,0.45", "-q", "8"],
              "a.v2": ["--gaze", g2, "--display", "0.4,64,48,0.45", "-q", "8"],
              "b": ["--roi", "boxes:0,0,32,24", "-q", "5"]}
    for rid, flags in single.items():
        ref = str(d / f"single_{rid}.racv")
        assert main(["encode", a if rid.startswith("a") else b, "-o", ref, "--fps", "25", "--no-progress"]
                    + flags) == 0
        assert same_stream(ref, rows[rid]["output"]), rid
        assert rows[rid]["output_bytes"] == os.path.getsize(ref) and rows[rid]["frames"] == 2
    assert rows["a.v1"]["settings_hash"] != rows["a.v2"]["settings_hash"]

    # decode all of them: the same mp4 bytes as rac-video decode (FFV1 .mkv files carry a random segment
    # id, so two runs of rac-video decode --lossless differ too: compared frame by frame)
    dec = str(d / "dec")
    assert main(["batch", "decode", out, "-o", dec, "--no-progress"]) == 0
    drows = _rows(os.path.join(dec, "batch-results.json"))
    assert set(drows) == {"a.v1", "a.v2", "b"} and drows["b"]["frames"] == 2
    for rid in ("a.v2", "b"):
        ref = str(d / f"single_{rid}.mp4")
        assert main(["decode", rows[rid]["output"], "-o", ref, "--no-progress"]) == 0
        assert _bytes(ref) == _bytes(drows[rid]["output"]), rid
    lossless = str(d / "dec_lossless")
    assert main(["batch", "decode", rows["b"]["output"], "-o", lossless, "--lossless", "--no-progress"]) == 0
    ref = str(d / "single_b.mkv")
    assert main(["decode", rows["b"]["output"], "-o", ref, "--lossless", "--no-progress"]) == 0
    assert _frames(ref) == _frames(os.path.join(lossless, "b.mkv"))

    # resume: nothing that finished is redone
    mtimes = {k: os.stat(r["output"]).st_mtime_ns for k, r in rows.items()}
    capsys.readouterr()
    assert main(["batch", "encode", "--manifest", man, "--per-viewer", "-o", out, "--fps", "25",
                 "--workers", "2", "--threads", "1", "--json"]) == 0
    man2 = json.loads(capsys.readouterr().out)
    assert man2["items_run"] == 0 and {r["status"] for r in man2["items"]} == {"skipped"}
    assert {k: os.stat(r["output"]).st_mtime_ns for k, r in rows.items()} == mtimes
    # a changed setting redoes only the items it changes
    with open(man) as f:
        text = f.read()
    with open(man, "w") as f:
        f.write(text.replace('32,24",5', '32,24",6'))                # b's quality 5 -> 6
    assert main(["batch", "encode", "--manifest", man, "--per-viewer", "-o", out, "--fps", "25",
                 "--workers", "1", "--threads", "1", "--json"]) == 0
    man4 = json.loads(capsys.readouterr().out)
    assert man4["items_run"] == 1 and [r["id"] for r in man4["items"] if r["status"] == "ok"] == ["b"]


def test_batch_failing_item_is_reported_and_the_rest_run(clips, tmp_path, capsys):
    d, a, b, *_ = clips
    bad = tmp_path / "bad.csv"
    bad.write_text(f"input,quality\n{a},8\n{tmp_path / 'missing.mp4'},8\n{b},99\n")
    out = str(tmp_path / "out")
    rc = main(["batch", "encode", "--manifest", str(bad), "-o", out, "--workers", "2", "--threads", "1",
               "--no-progress"])
    assert rc == 2                                      # bad input, as rac-video encode would exit
    rows = _rows(os.path.join(out, "batch-results.json"))
    assert rows["a"]["status"] == "ok" and os.path.getsize(rows["a"]["output"]) > 0
    assert rows["missing"]["status"] == "failed" and rows["missing"]["error"]
    assert rows["b"]["status"] == "failed" and "quality" in rows["b"]["error"]
    assert "failed missing" in capsys.readouterr().err
    # a re-run retries only the failed ones
    rc = main(["batch", "encode", "--manifest", str(bad), "-o", out, "--workers", "1", "--threads", "1", "--json"])
    assert rc == 2
    man = json.loads(capsys.readouterr().out)
    assert man["items_run"] == 2 and _rows(os.path.join(out, "batch-results.json"))["a"]["status"] == "skipped"


def test_batch_inputs_folder_glob_and_errors(clips, tmp_path):
    from rac_video.batch import items as I

    d, a, b, *_ = clips
    paths = I.expand_inputs([str(d / "clips")], "encode")
    assert paths == [a, b]                                        # a folder of image folders: one clip each
    assert I.expand_inputs([str(d / "clips" / "*")], "encode") == [a, b]
    assert I.expand_inputs([a], "encode") == [a]                  # an image folder is one clip
    its = I.items_from_paths(paths, "encode", str(tmp_path), {"quality": 4})
    assert [it.output for it in its] == [str(tmp_path / "a.racv"), str(tmp_path / "b.racv")]
    assert I.settings_hash(its[0]) != I.settings_hash(I.items_from_paths([a], "encode", str(tmp_path),
                                                                         {"quality": 5})[0])
    with pytest.raises(I.BatchInputError):
        I.expand_inputs([str(tmp_path / "nothing*.mp4")], "encode")
    with pytest.raises(I.BatchInputError):
        I.items_from_paths([a, a], "encode", str(tmp_path), {})   # two items, one output
    assert main(["batch", "encode", "-o", str(tmp_path)]) == 2    # no inputs
