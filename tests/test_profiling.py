"""Stage timing (rac_video.profiling), `rac-video bench pipeline`, and the bfloat16 pixel networks."""
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rac_video import profiling
from rac_video.codec.model import load_model, pixel_bf16_default


def test_stages_are_timed_on_every_thread_and_nested_time_goes_to_the_innermost():
    def worker():
        with profiling.stage("write"):
            time.sleep(0.03)

    with profiling.collect() as times:
        t = threading.Thread(target=worker, name="writer")
        t.start()
        with profiling.stage("denoise"):
            time.sleep(0.02)
            with profiling.stage("synthesis"):
                time.sleep(0.04)
            time.sleep(0.02)
        t.join()
    rows = {(r["stage"], r["thread"]): r for r in times.table(frames=1)}
    assert set(rows) == {("denoise", "MainThread"), ("synthesis", "MainThread"), ("write", "writer")}
    assert 0.035 <= rows["denoise", "MainThread"]["ms_per_frame"] / 1e3 < 0.055      # self time: 0.02 + 0.02
    assert 0.035 <= rows["synthesis", "MainThread"]["ms_per_frame"] / 1e3 < 0.055
    assert 0.025 <= rows["write", "writer"]["ms_per_frame"] / 1e3 < 0.045
    assert rows["denoise", "MainThread"]["calls"] == 1
    # the table follows the pipeline's order
    assert [r["stage"] for r in times.table(1)] == ["denoise", "synthesis", "write"]


def test_stage_marks_cost_nothing_outside_a_collection():
    with profiling.stage("read"):
        pass
    with profiling.collect() as times:
        pass
    assert times.table(1) == []
    # staged() marks each next() and stops with the iterable
    with profiling.collect() as times:
        assert list(profiling.staged(iter([1, 2, 3]), "read")) == [1, 2, 3]
    assert times.table(3)[0]["calls"] == 4       # three items and the StopIteration


def test_stages_show_up_as_torch_profiler_labels():
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        with profiling.stage("analysis"):
            torch.ones(8).sum()
    assert "rac.analysis" in {e.key for e in prof.key_averages()}


def test_bf16_default_follows_the_environment(monkeypatch):
    monkeypatch.setenv("RAC_VIDEO_BF16", "0")
    assert pixel_bf16_default("cpu") is False
    monkeypatch.setenv("RAC_VIDEO_BF16", "1")
    assert pixel_bf16_default("cpu") is True
    monkeypatch.setenv("RAC_VIDEO_BF16", "yes")
    with pytest.raises(ValueError, match="RAC_VIDEO_BF16"):
        pixel_bf16_default("cpu")
    monkeypatch.delenv("RAC_VIDEO_BF16")
    assert pixel_bf16_default("meta") is False
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert pixel_bf16_default("cpu") is bool(native)


def test_bf16_pixels_stay_close_to_float32_and_symbols_do_not_change():
    """The stated tolerance of the bfloat16 pixel path: ≥ 45 dB PSNR against the float32 decode of the same
    payload, no pixel off by more than 8 levels; the entropy half (everything that decides a symbol) is
    untouched by it."""
    rng = np.random.default_rng(3)
    H, W = 96, 128
    frame = (rng.random((H, W, 3)) * 255).astype(np.uint8)
    frame[24:72, 32:96] = [200, 60, 40]
    c32, c16 = load_model(), load_model()
    c32.bf16, c16.bf16 = False, True
    lev = np.full(c32.latent_hw(H, W), 8, np.uint8)
    payload = c32.encode_frame(frame, lev, 8)
    assert c16.encode_frame(frame, lev, 8) == payload
    a = c32.decode_levels(payload, lev, 8, height=H, width=W)
    b = c16.decode_levels(payload, lev, 8, height=H, width=W)
    assert torch.equal(a.k, b.k)
    x32 = c32.decode_frame(payload, lev, 8, height=H, width=W).astype(np.float64)
    x16 = c16.decode_frame(payload, lev, 8, height=H, width=W).astype(np.float64)
    mse = np.mean((x32 - x16) ** 2)
    assert mse == 0 or 10 * np.log10(255 ** 2 / mse) >= 45
    assert np.abs(x32 - x16).max() <= 8


def test_bench_pipeline_writes_the_stage_table(tmp_path, shared_data):
    frames = Path(shared_data) / "video" / "basketballpass" / "BasketballPass"
    if not frames.exists():
        pytest.skip(f"{frames} not found (../shared/data)")
    from rac_video.bench import pipeline as bench

    out = tmp_path / "p.json"
    assert bench.main(["--clip", str(frames), "--fps", "50", "--frames", "2", "--repeat", "1", "--importance",
                       "saliency", "--out", str(out)]) == 0
    rec = json.loads(out.read_text())
    r = rec["results"][0]
    assert r["frames"] == 2 and r["size"] == [416, 240]
    enc = {x["stage"] for x in r["stages_encode"]}
    dec = {x["stage"] for x in r["stages_decode"]}
    assert {"read", "importance", "analysis", "hyperprior+context", "entropy coding", "write", "other"} <= enc
    assert {"read", "entropy coding", "denoise", "synthesis", "write", "other"} <= dec
    for rows in (r["stages_encode"], r["stages_decode"]):
        main = sum(x["share_of_wall"] for x in rows if x["thread"] == "main")
        assert 0.99 <= main <= 1.01          # the main thread's stages and "other" add up to the wall time
    assert r["encode_fps"] > 0 and r["decode_fps"] > 0


def test_bench_parts_times_each_part_on_each_clip(shared_data, capsys):
    from rac_video.bench import parts

    assert parts.main(["--data", str(shared_data), "--frames", "1", "--repeat", "1"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) == {"entropy-decode", "p-encode"}
    assert set(out["entropy-decode"]) == {"416x240", "854x480"} and set(out["p-encode"]) == {"bp-416x240", "dog-854x480"}
    assert all(v > 0 for r in out.values() for v in r.values())
