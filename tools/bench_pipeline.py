"""Encode / decode frames per second of the whole pipeline, and where the bits go.

    python tools/bench_pipeline.py                  # BasketballPass 416x240 + DAVIS 854x480, writes
                                                    # benchmarks/pipeline-<host>.json

For each clip: ``rac-video encode`` (gaze importance from a GazeCom trace, constant quality) and
``decode`` through the real pipeline (threads, container, PyAV writer), timed end to end, plus the
codec-only milliseconds per frame, and the bits per frame split into payload / side info / headers.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data"))


def clips(data: Path):
    bp = data / "video" / "basketballpass"
    davis = sorted(p for p in (data / "video" / "davis2016" / "JPEGImages").glob("*") if p.is_dir())
    gaze = sorted((data / "gaze").rglob("*.coord"))
    out = []
    if bp.exists():
        out.append(("basketballpass-416x240", str(bp), 50, gaze[0] if gaze else None))
    if davis:
        out.append((f"davis-{davis[0].name}-854x480", str(davis[0]), 24, gaze[0] if gaze else None))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--frames", type=int, default=12)
    p.add_argument("--quality", type=int, default=8)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from rac_video import pipeline
    from rac_video.codec import load_model
    from rac_video.eval.report import machine_record, write_report

    codec = load_model(device=args.device)
    steps = codec.steps if args.steps is None else args.steps
    results = []
    todo = clips(args.data)
    if not todo:
        print(f"no clips under {args.data}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, fps, trace in todo:
            spec = f"gaze:{trace}" if trace else "saliency"
            opts = pipeline.EncodeOptions(quality=args.quality, importance=spec, steps=steps, fps=fps,
                                          max_frames=args.frames, device=args.device)
            racv = os.path.join(tmp, f"{name}.racv")
            enc = pipeline.encode_video(path, racv, opts, codec=codec, progress=False)
            dec = pipeline.decode_video(racv, os.path.join(tmp, f"{name}.mp4"), codec=codec, progress=False)
            pf = enc.pop("per_frame")
            results.append({"clip": name, "importance": spec.split(":")[0], "size": [enc["width"], enc["height"]],
                            "frames": enc["frames"], "quality": args.quality, "steps": steps,
                            "encode_fps": enc["encode_fps"], "decode_fps": dec["decode_fps"],
                            "encode_codec_ms_per_frame": sum(s["encode_ms"] for s in pf) / len(pf),
                            "decode_codec_ms_per_frame": dec["codec_ms_per_frame"],
                            "bits_per_frame": enc["bits_per_frame"], "kbps": enc["kbps"], "bpp": enc["bpp"]})
            r = results[-1]
            print(f"{name}: encode {r['encode_fps']:.2f} fps, decode {r['decode_fps']:.2f} fps, bits/frame "
                  + ", ".join(f"{k} {v:.0f}" for k, v in r["bits_per_frame"].items()))
    host = platform.node() or "unknown"
    out = args.out or ROOT / "benchmarks" / f"pipeline-{host}.json"
    write_report(out, "tools/bench_pipeline.py", argv, codec, machine=machine_record(loadavg=list(os.getloadavg())),
                 device=args.device, time=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), results=results)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
