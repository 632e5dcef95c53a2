import json

import pytest

from rac_video.cli import main
from rac_video.eval.report import check_record
from rac_video.commands.stream import parse_netem_spec


def test_bench_inprocess_writes_report(tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["stream", "bench", "--codec", "jpeg", "--inprocess", "--frames", "15", "--size", "96x64", "--fps", "50",
               "--run", "none", "--run", "rate=20,delay=20,jitter=5,loss=1,seed=3", "--target-kbps", "500",
               "--report", str(out)])
    assert rc == 0
    rep = json.loads(out.read_text())
    check_record(rep)
    assert rep["machine"]["host"] and len(rep["runs"]) == 2
    assert rep["model"] == "jpeg-standin"     # every run's stream header named the stand-in
    none, lossy = rep["runs"]
    assert none["netem"] == "none" and lossy["netem"].startswith("20 Mbit/s, 20 ms ± 5 ms, 1 % loss")
    for r in rep["runs"]:
        assert r["codec_note"].startswith("JPEG stand-in")
        assert r["latency_ms"]["end_to_end"]["n"] == r["frames"]["displayed"] > 0
        assert r["target_kbps"] == 500
        assert r["model"] == "jpeg-standin" and r["weights_sha256"] == "0" * 64
    # the emulated delay shows up in the network stage
    assert lossy["latency_ms"]["network_emulation"]["median"] >= 15
    assert (tmp_path / "r" / "none.csv").exists() and (tmp_path / "r" / "none.png").exists()
    assert "end-to-end ms" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["stream", "bench", "--inprocess", "--run", "rate=fast"],
    ["stream", "bench", "--inprocess", "--run", "speed=3"],
    ["stream", "bench", "--inprocess", "--frames", "0"],
    ["stream", "serve", "--source", "/nonexistent/clip.mp4", "--port", "0", "--duration", "0.1"],
    ["stream", "serve", "--host", "0.0.0.0", "--port", "0", "--duration", "0.1"],
    ["stream", "serve", "--quality", "40", "--port", "0"],
    ["stream", "play", "--gaze", "viewer"],
    ["stream", "serve", "--device", "tpu", "--port", "0", "--duration", "0.1"],
    ["stream", "play", "--device", "cuda:99", "--frames", "1"],
    ["stream", "bench", "--inprocess", "--frames", "1", "--decode-device", "gpu"],
])
def test_bad_arguments_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "error" in capsys.readouterr().err


def test_device_reaches_server_and_client_configs():
    """--device / --decode-device name where each end's networks run (recorded in the bench report)."""
    import argparse

    from rac_video.commands import stream

    p = argparse.ArgumentParser()
    stream.add_arguments(p)
    a = p.parse_args(["bench", "--device", "cpu"])
    assert stream._server_config(a).device == "cpu" and stream._client_config(a).device == "cpu"
    a = p.parse_args(["bench", "--decode-device", "cpu:0"])
    assert stream._client_config(a).device == "cpu:0"
    a = p.parse_args(["play", "--device", "cpu"])
    assert stream._client_config(a).device == "cpu"


def test_netem_spec():
    c = parse_netem_spec("rate=20,delay=20,jitter=5,loss=1,queue=100,seed=4")
    assert (c.rate_bps, c.delay_s, c.jitter_s, c.loss, c.queue_s, c.seed) == (20e6, 0.02, 0.005, 0.01, 0.1, 4)
    assert not parse_netem_spec("none").active


def test_bench_json_output(tmp_path, capsys):
    rc = main(["stream", "bench", "--codec", "jpeg", "--inprocess", "--frames", "5", "--size", "64x48", "--run", "none",
               "--report", str(tmp_path / "r.json"), "--json"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "r.json").read_text())


def test_bench_process_pair(tmp_path):
    """The default bench path: the server as its own process (rac-video stream serve), ended by the stream."""
    out = tmp_path / "p.json"
    assert main(["stream", "bench", "--codec", "jpeg", "--frames", "10", "--size", "96x64", "--run", "none",
                 "--report", str(out)]) == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["process_pair"] and run["server"] and run["server"][0]["sent"] == run["frames"]["received"] > 0


def test_bench_server_that_cannot_start(tmp_path, capsys):
    rc = main(["stream", "bench", "--frames", "5", "--source", str(tmp_path / "missing"), "--run", "none",
               "--report", str(tmp_path / "x.json")])
    assert rc == 1 and "server exited" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_bench_uses_the_real_codec_by_default(tmp_path, weights_env):
    """Without --codec the stream codes with the region-adaptive codec (here a random model), every
    frame (--every-frame: a slow machine skips none), and the report names the model, not a stand-in."""
    out = tmp_path / "d.json"
    assert main(["stream", "bench", "--inprocess", "--every-frame", "--model", "rand-a", "--frames", "3",
                 "--size", "64x48", "--fps", "10", "--run", "none", "--report", str(out)]) == 0
    (run,) = json.loads(out.read_text())["runs"]
    assert run["codec"] == "rac" and run["model"] == "rand-a" and "codec_note" not in run
    assert run["realtime"] is False and run["frames"]["received"] == 3 and run["server"][0]["drops"] == {}
