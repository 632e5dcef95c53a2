#!/usr/bin/env python
"""Does the gaze filter stop the level map from flickering during fixations? (GazeCom traces)

Per-frame gaze of real GazeCom viewers on a 1280x720 frame at --fps drives the foveated level map
at latent resolution (factor 8, L = 16, integer ``FoveatedGaze`` path). For every pair of
consecutive frames we count the latent cells whose level changes, separately for frames inside a
fixation (no saccade between them, detected with the default 30 deg/s threshold on the raw gaze)
and at saccades, with the raw per-frame gaze, with ``temporal.GazeFilter`` (default settings) and
with the filter's dead zone (``deadzone_deg``).
Changed cells within fixations are flicker (the codec re-sends / re-quantizes those regions); at
saccades the map should jump, i.e. change as much as the raw map does.

    python tools/validate_smoothing.py [--data DIR] [--out benchmarks/smoothing-gazecom.json]
"""
from __future__ import annotations

import argparse
import datetime
import glob
import os
import sys

import numpy as np


from rac_video.eval.report import benchmark_record, write_record  # noqa: E402
from rac_video.importance import gaze, sideinfo, temporal  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "gaze", "gazecom"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "benchmarks", "smoothing-gazecom.json"))
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--files", type=int, default=12)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--tau-s", type=float, default=0.04)
    ap.add_argument("--deadzones", type=float, nargs="*", default=[0.25, 0.5], help="dead zones (deg) to test")
    args = ap.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.data, "**", "*.coord"), recursive=True))[: args.files]
    if not files:
        print(f"no .coord files under {args.data}", file=sys.stderr)
        return 2
    hw, frame_hw = (90, 160), (720, 1280)
    variants = ["raw", "filtered"] + [f"deadzone{d:g}" for d in args.deadzones]
    acc = {k: {"fix": [], "sacc": []} for k in variants}
    for f in files:
        tr = gaze.read_gaze(f)
        disp = tr.display
        pts = tr.per_frame(args.fps, args.frames, (1280, 720))
        t = np.arange(args.frames) / args.fps
        sacc = temporal.detect_saccades(t, pts, disp.ppd)
        filters = {"filtered": temporal.GazeFilter(args.fps, disp.ppd, tau_s=args.tau_s, frame_wh=(1280, 720))}
        for d in args.deadzones:
            filters[f"deadzone{d:g}"] = temporal.GazeFilter(args.fps, disp.ppd, tau_s=args.tau_s, frame_wh=(1280, 720),
                                                            deadzone_deg=d)
        prev = {}
        for i in range(args.frames):
            cur = {"raw": pts[i], **{k: flt.update(pts[i])[0] for k, flt in filters.items()}}
            lv = {}
            for k, p in cur.items():
                ok = np.isfinite(p).all()
                lv[k] = sideinfo.FoveatedGaze(p[None] if ok else np.zeros((0, 2)), frame_hw,
                                              display=disp).levels(hw) if ok else None
            if i > 0 and all(lv[k] is not None and prev.get(k) is not None for k in lv):
                which = "sacc" if sacc[i] else "fix"
                for k in lv:
                    acc[k][which].append(float((lv[k] != prev[k]).mean()))
            prev = lv
    res_rows = {}
    for k in acc:
        res_rows[k] = {w: {"mean_changed_cells": round(float(np.mean(v)), 5),
                           "frames_with_any_change": round(float(np.mean(np.asarray(v) > 0)), 4),
                           "pairs": len(v)} for w, v in acc[k].items()}
    res = benchmark_record(
        "tools/validate_smoothing.py", argv, None,
        what="share of latent cells (90x160, L=16) whose level changes between consecutive frames, "
             "within fixations vs at saccades, raw per-frame gaze vs GazeFilter",
        date_utc=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        data={"traces": len(files), "frames_each": args.frames, "fps": args.fps},
        filter={"tau_s": args.tau_s, "threshold_deg_s": temporal.DEFAULT_THRESHOLD_DEG_S}, results=res_rows)
    out = os.path.normpath(args.out)
    write_record(out, res)
    for k, r in res_rows.items():
        print(f"{k:12s} fixation: {r['fix']['mean_changed_cells']:.2%} cells changed/frame, "
              f"{r['fix']['frames_with_any_change']:.0%} frames with a change ({r['fix']['pairs']} pairs); "
              f"saccade: {r['sacc']['mean_changed_cells']:.2%} ({r['sacc']['pairs']} pairs)")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
