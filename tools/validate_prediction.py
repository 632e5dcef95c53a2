#!/usr/bin/env python
"""How well does gaze latency compensation work? GazeCom traces, per-frame gaze at --fps.

A streaming encoder sees gaze ``latency`` seconds old when the frame is displayed. We compare the
gaze at display time (the per-frame median at frame i + latency·fps) with

* ``hold``: the filtered gaze at frame i (``temporal.GazeFilter``, no prediction),
* ``predict``: the same filter extrapolating its velocity by the latency (``predict_s=latency``),
* ``raw``: the unfiltered per-frame gaze at frame i,

as angular error in degrees (the header's display, 25.1 px/deg) over all frames where both are
valid: median, 90th percentile, and the share of frames within the foveation plateau radius (the
eccentricity at which importance starts to drop below 1 for this display, margin included), i.e.
frames where the viewer actually looks at full-importance content.

    python tools/validate_prediction.py [--data DIR] [--out benchmarks/gaze-prediction-gazecom.json]
"""
from __future__ import annotations

import argparse
import datetime
import glob
import os
import sys

import numpy as np


from rac_video.eval.report import benchmark_record, write_record  # noqa: E402
from rac_video.importance import foveation, gaze, temporal  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "gaze", "gazecom"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "benchmarks", "gaze-prediction-gazecom.json"))
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--latency-ms", type=float, nargs="*", default=[33.3, 66.7, 100, 200])
    ap.add_argument("--files", type=int, default=30, help="at most this many traces")
    ap.add_argument("--tau-s", type=float, default=0.04)
    args = ap.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.data, "**", "*.coord"), recursive=True))[: args.files]
    if not files:
        print(f"no .coord files under {args.data}", file=sys.stderr)
        return 2
    fps = args.fps
    rows = []
    for lat_ms in args.latency_ms:
        k = int(round(lat_ms / 1000 * fps))
        errs = {"raw": [], "hold": [], "predict": []}
        for f in files:
            tr = gaze.read_gaze(f)
            disp = tr.display
            ppd = disp.ppd
            n = int(tr.t[-1] * fps)
            pts = tr.per_frame(fps, n, (disp.width_px, disp.height_px))
            hold = temporal.GazeFilter(fps, ppd, tau_s=args.tau_s, hold_s=0.0)
            pred = temporal.GazeFilter(fps, ppd, tau_s=args.tau_s, hold_s=0.0, predict_s=k / fps,
                                       frame_wh=(disp.width_px, disp.height_px))
            h = np.array([hold.update(p)[0] for p in pts])
            p = np.array([pred.update(q)[0] for q in pts])
            target = np.roll(pts, -k, axis=0)
            target[n - k:] = np.nan
            for name, est in (("raw", pts), ("hold", h), ("predict", p)):
                e = np.hypot(*(est - target).T) / ppd
                errs[name].append(e[np.isfinite(e)])
        plateau = foveation.radius_for_importance(1.0, foveation.GAZECOM_DISPLAY.ppd, foveation.FoveationParams())
        row = {"latency_ms": lat_ms, "frames_ahead": k, "plateau_deg": round(plateau, 3)}
        for name, lst in errs.items():
            e = np.concatenate(lst)
            row[name] = {"median_deg": round(float(np.median(e)), 3), "p90_deg": round(float(np.percentile(e, 90)), 3),
                         "within_plateau": round(float((e <= plateau).mean()), 4), "frames": int(len(e))}
        rows.append(row)
    res = benchmark_record(
        "tools/validate_prediction.py", argv, None,
        what="angular error (deg) between the gaze used for frame i and the gaze at display time i+latency",
        date_utc=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        data={"traces": len(files), "fps": fps, "source": "GazeCom natural movies (../shared/data/gaze/gazecom)"},
        filter={"tau_s": args.tau_s, "threshold_deg_s": temporal.DEFAULT_THRESHOLD_DEG_S}, rows=rows)
    out = os.path.normpath(args.out)
    write_record(out, res)
    print(f"{len(files)} traces at {fps:g} fps; error in degrees (median / p90 / share within the "
          f"{rows[0]['plateau_deg']:.2f} deg plateau)")
    for r in rows:
        print(f"latency {r['latency_ms']:6.1f} ms ({r['frames_ahead']} fr): " + "  ".join(
            f"{n} {r[n]['median_deg']:.2f}/{r[n]['p90_deg']:.2f}/{r[n]['within_plateau']:.0%}"
            for n in ("raw", "hold", "predict")))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
