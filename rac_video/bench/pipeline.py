"""The whole pipeline's speed, stage by stage.

    rac-video bench pipeline                      # BasketballPass 416x240 + DAVIS 854x480 from ../shared/data
    rac-video bench pipeline --clip frames/ --fps 25 --frames 48 --gop 24 --out bench.json

For each clip: ``encode_video`` (gaze importance from a GazeCom trace when one is found, else saliency;
constant quality) and ``decode_video`` through the real pipeline (reader / writer threads, container,
PyAV writer), timed end to end (frames per second; the median of ``--repeat`` interleaved runs), then both
again inside
``rac_video.profiling.collect()`` for the per-stage table: milliseconds per frame of read, importance,
analysis, motion, hyperprior+context, entropy coding, denoise, synthesis and write, each on the thread
that ran it (``main`` runs the codec; ``reader`` and ``writer`` run beside it), plus the main thread's
unmarked rest ("other": queues, side information, rate control, bookkeeping). A warm-up pass runs first.
The bits per frame are split into payload / side info / headers.

``--trace DIR`` also writes a ``torch.profiler`` Chrome trace of the encode and the decode of the main
thread (the stages appear as ``rac.<stage>`` labels). Writes ``benchmarks/pipeline-<host>.json`` (or
``--out``) with the machine described.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data"))


def default_clips(data: Path) -> list[tuple[str, str, float, Path | None]]:
    """(name, path, fps, gaze trace or None) of the default clips found under ``data``."""
    bp = data / "video" / "basketballpass"
    davis = sorted(p for p in (data / "video" / "davis2016" / "JPEGImages").glob("*") if p.is_dir())
    gaze = sorted((data / "gaze").rglob("*.coord"))
    out = []
    if bp.exists():
        out.append(("basketballpass-416x240", str(bp), 50.0, gaze[0] if gaze else None))
    if davis:
        out.append((f"davis-{davis[0].name}-854x480", str(davis[0]), 24.0, gaze[0] if gaze else None))
    return out


def stage_rows(times, frames: int, wall_s: float) -> list[dict]:
    """The stage table of one run: ``StageTimes.table`` plus the main thread's unmarked rest ("other")
    and each row's share of the wall time."""
    rows = times.table(frames)
    main = sum(r["ms_per_frame"] for r in rows if r["thread"] == "MainThread")
    rows.append({"stage": "other", "thread": "MainThread", "ms_per_frame": max(1e3 * wall_s / frames - main, 0.0),
                 "calls": frames})
    for r in rows:
        r["thread"] = {"MainThread": "main"}.get(r["thread"], r["thread"])
        r["share_of_wall"] = r["ms_per_frame"] / (1e3 * wall_s / frames)
    return rows


def format_table(rows_enc: list[dict], rows_dec: list[dict]) -> str:
    """The two stage tables side by side, as markdown."""
    def key(r):
        return r["stage"], r["thread"]
    enc, dec = {key(r): r for r in rows_enc}, {key(r): r for r in rows_dec}
    order = list(dict.fromkeys([key(r) for r in rows_enc] + [key(r) for r in rows_dec]))
    from ..profiling import STAGES
    rank = {n: i for i, n in enumerate((*STAGES, "other"))}
    order.sort(key=lambda k: (rank.get(k[0], len(rank)), k[1]))
    lines = ["| stage | thread | encode ms/frame | share | decode ms/frame | share |", "|---|---|---|---|---|---|"]
    for k in order:
        cells = []
        for d in (enc, dec):
            r = d.get(k)
            cells += ([f"{r['ms_per_frame']:.2f}", f"{100 * r['share_of_wall']:.0f} %"] if r else ["-", "-"])
        lines.append(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_clip(codec, name: str, path: str, fps: float, importance: str, *, frames: int, quality: int,
             steps: int, gop: int, device: str, tmp: str, repeat: int = 3, trace: Path | None = None) -> dict:
    """Encode and decode one clip: timed passes, then profiled passes (module docstring)."""
    import torch

    from .. import pipeline, profiling

    opts = pipeline.EncodeOptions(quality=quality, importance=importance, steps=steps, fps=fps,
                                  max_frames=frames, device=device, gop=gop)
    racv, mp4 = os.path.join(tmp, f"{name}.racv"), os.path.join(tmp, f"{name}.mp4")
    pipeline.encode_video(path, racv, opts, codec=codec, progress=False)        # warm-up
    pipeline.decode_video(racv, mp4, codec=codec, progress=False)
    encs, decs = [], []
    for _ in range(repeat):                    # interleaved; the median run of each (a shared machine is noisy)
        encs.append(pipeline.encode_video(path, racv, opts, codec=codec, progress=False))
        decs.append(pipeline.decode_video(racv, mp4, codec=codec, progress=False))
    enc = sorted(encs, key=lambda r: r["encode_fps"])[len(encs) // 2]
    dec = sorted(decs, key=lambda r: r["decode_fps"])[len(decs) // 2]
    n = enc["frames"]
    with profiling.collect() as t_enc:
        t0 = time.perf_counter()
        pipeline.encode_video(path, racv, opts, codec=codec, progress=False)
        wall_enc = time.perf_counter() - t0
    with profiling.collect() as t_dec:
        t0 = time.perf_counter()
        pipeline.decode_video(racv, mp4, codec=codec, progress=False)
        wall_dec = time.perf_counter() - t0
    if trace is not None:
        trace.mkdir(parents=True, exist_ok=True)
        for what, fn in (("encode", lambda: pipeline.encode_video(path, racv, opts, codec=codec, progress=False)),
                         ("decode", lambda: pipeline.decode_video(racv, mp4, codec=codec, progress=False))):
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
                fn()
            prof.export_chrome_trace(str(trace / f"{name}-{what}.json"))
    pf = enc.pop("per_frame")
    return {"clip": name, "importance": importance.split(":")[0], "size": [enc["width"], enc["height"]],
            "frames": n, "quality": quality, "steps": steps, "gop": gop, "repeat": repeat,
            "encode_fps_runs": [r["encode_fps"] for r in encs], "decode_fps_runs": [r["decode_fps"] for r in decs],
            "encode_fps": enc["encode_fps"], "decode_fps": dec["decode_fps"],
            "encode_codec_ms_per_frame": sum(s["encode_ms"] for s in pf) / len(pf),
            "decode_codec_ms_per_frame": dec["codec_ms_per_frame"],
            "profiled_encode_fps": n / wall_enc, "profiled_decode_fps": n / wall_dec,
            "stages_encode": stage_rows(t_enc, n, wall_enc), "stages_decode": stage_rows(t_dec, n, wall_dec),
            "bits_per_frame": enc["bits_per_frame"], "kbps": enc["kbps"], "bpp": enc["bpp"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="rac-video bench pipeline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder (default clips)")
    p.add_argument("--clip", action="append", default=None,
                   help="a video file or image folder instead of the default clips (repeatable)")
    p.add_argument("--fps", type=float, default=25.0, help="frame rate of --clip image folders")
    p.add_argument("--importance", default=None,
                   help="importance spec for every clip (default: the first GazeCom trace, else saliency)")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--quality", type=int, default=8)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--gop", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="timed encode/decode runs per clip (the median is reported)")
    p.add_argument("--model", default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--trace", type=Path, default=None, help="also write torch.profiler Chrome traces here")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from ..codec import load_model
    from ..eval.report import machine_record, write_report

    if args.frames < 2 or args.repeat < 1:
        p.error("--frames must be at least 2 and --repeat at least 1")
    if args.clip:
        todo = [(Path(c).name, c, args.fps, None) for c in args.clip]
    else:
        todo = default_clips(args.data)
        if not todo:
            print(f"rac-video bench pipeline: no clips under {args.data} (give --clip)", file=sys.stderr)
            return 2
    codec = load_model(args.model, device=args.device)
    steps = codec.steps if args.steps is None else args.steps
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, fps, trace in todo:
            spec = args.importance or (f"gaze:{trace}" if trace else "saliency")
            r = run_clip(codec, name, path, fps, spec, frames=args.frames, quality=args.quality, steps=steps,
                         gop=args.gop, device=args.device, tmp=tmp, repeat=args.repeat, trace=args.trace)
            results.append(r)
            print(f"\n{name} ({r['size'][0]}x{r['size'][1]}, {r['frames']} frames, q{args.quality}, gop {args.gop}): "
                  f"encode {r['encode_fps']:.1f} fps, decode {r['decode_fps']:.1f} fps (codec "
                  f"{r['encode_codec_ms_per_frame']:.1f} / {r['decode_codec_ms_per_frame']:.1f} ms per frame)")
            print(format_table(r["stages_encode"], r["stages_decode"]))
    host = platform.node() or "unknown"
    out = args.out or ROOT / "benchmarks" / f"pipeline-{host}.json"
    write_report(out, "rac-video bench pipeline", argv if argv is not None else sys.argv[1:], codec,
                 machine=machine_record(loadavg=list(os.getloadavg())), device=args.device,
                 time=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), results=results)
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
