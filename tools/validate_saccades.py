#!/usr/bin/env python
"""Validate the velocity-threshold saccade detector (rac_video.importance.temporal) against the
event labels of the DIEM eye-tracking exports (1 = fixation, 2 = saccade; -1 lost, 0 blink).

Sample-level agreement: every sample where the left eye has a fixation or saccade label and a
position inside the video counts (the right-eye event column of these files never holds a saccade
code, so the labels are the left eye's); the detector sees the left eye's positions (or, with
--source mean, the binocular mean). The speed of the first sample after a gap is undefined and
counts as "no saccade". Reported for the default
threshold (30 deg/s, causal "backward" speed) and a sweep of thresholds and speed modes:
precision, recall, F1 of the saccade class, Cohen's kappa, accuracy.

DIEM's export has one row per 30 fps video frame, so a saccade (20-60 ms) spans one or two rows at
most and often falls between two rows: a frame-rate I-VT detector can only partly agree with labels
that the tracker computed at its own (much higher) sample rate.

Pixels per degree: DIEM's own export gives no viewing geometry. The default assumes the DIEM
setup as usually described (video shown unscaled on a 1280x960 screen 0.40 m wide, viewed from
0.90 m; about 50 px/deg); change it with --screen-width-m/--screen-px/--distance-m or --ppd.
As the detector compares pixel speed / ppd with the threshold, a different ppd is the same as a
proportionally different threshold, which the sweep shows.

    python tools/validate_saccades.py [--data DIR] [--out benchmarks/saccades-diem.json]
"""
from __future__ import annotations

import argparse
import datetime
import glob
import os
import subprocess
import sys

import numpy as np


from rac_video.eval.report import benchmark_record, machine_record, write_record  # noqa: E402
from rac_video.importance import foveation, gaze, temporal  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "gaze", "diem"))


def agreement(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Confusion counts and scores of boolean predictions against boolean truth."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    tp = int((pred & truth).sum())
    fp = int((pred & ~truth).sum())
    fn = int((~pred & truth).sum())
    tn = int((~pred & ~truth).sum())
    n = tp + fp + fn + tn
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    po = (tp + tn) / n if n else 0.0
    pe = (((tp + fp) * (tp + fn)) + ((fn + tn) * (fp + tn))) / (n * n) if n else 0.0
    kappa = (po - pe) / (1 - pe) if pe < 1 else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "n": n, "precision": round(prec, 4), "recall": round(rec, 4),
            "f1": round(f1, 4), "kappa": round(kappa, 4), "accuracy": round(po, 4)}


def label_samples(tr: gaze.GazeTrace, source: str):
    """(t, xy with NaN where unusable, truth saccade bool, evaluated mask) for one trace.

    Labels: the left-eye event column (in these files the right-eye column never holds code 2, so
    it carries no saccade labels). Evaluated: samples where the left eye is valid (fixation or
    saccade, inside the video). Detector input: ``source`` = "left" (left-eye positions) or "mean"
    (the trace's binocular mean of the valid eyes)."""
    ok = tr.extra["left_valid"]
    truth = tr.extra["left_event"] == 2
    if source == "left":
        xy = np.where(ok[:, None], tr.extra["left_xy"], np.nan)
    else:
        xy = np.where(tr.valid[:, None], np.stack([tr.x, tr.y], 1), np.nan)
    return tr.t, xy, truth, ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA, help="DIEM folder (searched for */event_data/*.txt)")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "benchmarks", "saccades-diem.json"))
    ap.add_argument("--fps", type=float, default=30.0, help="rows per second of the DIEM export")
    ap.add_argument("--screen-width-m", type=float, default=0.40)
    ap.add_argument("--screen-px", type=int, nargs=2, default=(1280, 960))
    ap.add_argument("--distance-m", type=float, default=0.90)
    ap.add_argument("--ppd", type=float, default=None, help="pixels per degree (overrides the geometry)")
    ap.add_argument("--source", choices=("left", "mean"), default="left",
                    help="detector input: left-eye positions or the binocular mean")
    ap.add_argument("--threshold", type=float, default=temporal.DEFAULT_THRESHOLD_DEG_S)
    ap.add_argument("--sweep", type=float, nargs="*", default=[10, 15, 20, 30, 45, 60, 90, 120])
    args = ap.parse_args(argv)

    files = sorted(glob.glob(os.path.join(args.data, "**", "event_data", "*.txt"), recursive=True))
    if not files:
        print(f"no DIEM event files under {args.data}", file=sys.stderr)
        return 2
    if args.ppd is not None:
        ppd, geometry = float(args.ppd), {"ppd": float(args.ppd)}
    else:
        disp = foveation.Display(args.screen_width_m, args.screen_px[0], args.screen_px[1], args.distance_m)
        ppd = disp.ppd  # video shown unscaled: one video pixel = one screen pixel
        geometry = {"screen_width_m": args.screen_width_m, "screen_px": list(args.screen_px),
                    "distance_m": args.distance_m, "video_scale": 1.0, "ppd": round(ppd, 4)}

    modes = ("backward", "either", "central")
    thresholds = sorted(set(args.sweep) | {args.threshold})
    preds = {(m, th): [] for m in modes for th in thresholds}
    truths = []
    per_file = []
    right_codes = set()
    still = []  # labelled saccade samples whose position barely moves to or from its neighbours
    for f in files:
        tr = gaze.read_diem(f, fps=args.fps)
        right_codes |= set(np.unique(tr.extra["right_event"]).tolist())
        ft, fp_ = [], []
        for t, xy, truth, ok in [label_samples(tr, args.source)]:
            speeds = {m: temporal.velocity_deg_s(t, xy, ppd, m) for m in modes}
            e = speeds["either"]
            still.append((np.isfinite(e) & (e < 5.0))[ok & truth])
            truths.append(truth[ok])
            ft.append(truth[ok])
            for m in modes:
                v = np.nan_to_num(speeds[m], nan=-1.0)
                for th in thresholds:
                    p = (v > th)[ok]
                    preds[(m, th)].append(p)
                    if m == "backward" and th == args.threshold:
                        fp_.append(p)
        per_file.append({"file": os.path.basename(f),
                         **{k: v for k, v in agreement(np.concatenate(fp_), np.concatenate(ft)).items()
                            if k in ("n", "f1", "kappa")}})
    truth_all = np.concatenate(truths)
    sweep = []
    for m in modes:
        for th in thresholds:
            sweep.append({"mode": m, "threshold_deg_s": th, **agreement(np.concatenate(preds[(m, th)]), truth_all)})
    default = next(r for r in sweep if r["mode"] == "backward" and r["threshold_deg_s"] == args.threshold)
    best = max(sweep, key=lambda r: r["kappa"])
    kap = np.array([r["kappa"] for r in per_file])
    try:
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=False).stdout.strip()
    except OSError:
        commit = ""
    fields = {
        "what": "sample-level agreement of rac_video.importance.temporal (I-VT) with DIEM event labels "
                "(saccade=2 vs fixation=1), all files pooled",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": commit,
        "data": {"files": len(files), "samples": int(len(truth_all)), "saccade_fraction":
                 round(float(truth_all.mean()), 4), "fps": args.fps,
                 "source": "DIEM arctic_bears_1066x710 event_data (../shared/data/gaze/diem)"},
        "geometry": geometry,
        "default": default,
        "labels": "left-eye event column (right-eye column codes seen: %s)" % sorted(right_codes),
        "detector_input": args.source,
        "labelled_saccades_without_motion": {
            "what": "fraction of saccade-labelled samples whose speed to and from both neighbours is < 5 deg/s "
                    "(no frame-rate detector can find these)",
            "fraction": round(float(np.concatenate(still).mean()), 4)},
        "best_kappa": best,
        "per_file_kappa": {"min": round(float(kap.min()), 4), "median": round(float(np.median(kap)), 4),
                           "max": round(float(kap.max()), 4)},
        "sweep": sweep,
        "per_file": per_file,
    }
    result = benchmark_record("tools/validate_saccades.py", argv, None, machine=machine_record(numpy=np.__version__),
                              **fields)
    out = os.path.normpath(args.out)
    write_record(out, result)
    d = default
    print(f"{len(files)} files, {len(truth_all)} samples, {truth_all.mean():.1%} labelled saccade, "
          f"ppd {ppd:.2f}")
    print(f"default (backward, {args.threshold:g} deg/s): precision {d['precision']:.3f} recall {d['recall']:.3f} "
          f"F1 {d['f1']:.3f} kappa {d['kappa']:.3f} accuracy {d['accuracy']:.3f}")
    print(f"labels: {result['labels']}; detector input: {args.source}")
    print(f"saccade-labelled samples without motion (< 5 deg/s to and from both neighbours): "
          f"{result['labelled_saccades_without_motion']['fraction']:.1%}")
    print(f"best kappa: {best['mode']} {best['threshold_deg_s']:g} deg/s: F1 {best['f1']:.3f} "
          f"kappa {best['kappa']:.3f}")
    print(f"{'mode':9s} {'thr':>5s} {'prec':>6s} {'rec':>6s} {'F1':>6s} {'kappa':>6s}")
    for r in sweep:
        print(f"{r['mode']:9s} {r['threshold_deg_s']:5g} {r['precision']:6.3f} {r['recall']:6.3f} {r['f1']:6.3f} "
              f"{r['kappa']:6.3f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
