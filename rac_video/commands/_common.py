"""Options shared by encode / demo / stream commands (importance source, display geometry, rate)."""
from __future__ import annotations

import glob
import json
import math
import os
import sys


def add_importance_arguments(p):
    g = p.add_argument_group("importance (where the bits go; default uniform)")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--gaze", metavar="TRACE[,TRACE...]", help="eye-tracking trace(s): foveation around the gaze")
    x.add_argument("--saliency", nargs="?", const="", metavar="PATH",
                   help="spectral-residual saliency of each frame, or external maps from PATH")
    x.add_argument("--roi", metavar="SPEC", help="masks:PATH | boxes:x0,y0,x1,y1[;...] | faces")
    x.add_argument("--importance", metavar="SPEC", help="any rac_video.importance.source spec")
    g.add_argument("--display", metavar="WIDTH_M,W_PX,H_PX,DIST_M",
                   help="display geometry for gaze foveation (default: the trace's header, else GazeCom's "
                        "0.4,1280,720,0.45)")
    g.add_argument("--predict-ms", type=float, default=0.0, help="gaze prediction by this latency (ms)")


def importance_spec(args) -> tuple[str, dict]:
    if getattr(args, "display", None) and not args.gaze:
        raise ValueError("--display sets the display geometry for gaze foveation: it needs --gaze")
    pm = getattr(args, "predict_ms", 0.0) or 0.0
    if not math.isfinite(pm) or not 0 <= pm <= 1000:
        raise ValueError(f"--predict-ms must be in [0, 1000], got {pm!r}")
    if pm and not args.gaze:
        raise ValueError("--predict-ms predicts gaze: it needs --gaze")
    kw = {}
    if args.gaze:
        spec = f"gaze:{args.gaze}"
        if args.display:
            kw["display"] = parse_display(args.display)
        if args.predict_ms:
            kw["predict_s"] = args.predict_ms / 1000.0
    elif args.saliency is not None:
        spec = f"saliency:{args.saliency}" if args.saliency else "saliency"
    elif args.roi:
        spec = args.roi
    else:
        spec = args.importance or "uniform"
    return spec, kw


def importance_inputs(spec: str) -> list[str]:
    """The files and folders an importance spec reads (gaze traces, saliency maps, masks)."""
    kind, _, arg = (spec or "").partition(":")
    kind = kind.strip().lower()
    if not arg or kind not in ("gaze", "saliency", "masks"):
        return []
    parts = arg.split(",") if kind == "gaze" else [arg]
    out = []
    for p in (q for q in parts if q):
        out.extend(sorted(glob.glob(p)) if any(c in p for c in "*?[") else [p])
    return out


def check_outputs(outputs, inputs) -> None:
    """No output may be (a link to) an input: ValueError (exit 2) naming both."""
    from .._atomic import check_not_input

    outs = [o for o in outputs if o]
    for o in outs:
        check_not_input(o, inputs)
    for i, a in enumerate(outs):
        for b in outs[i + 1:]:
            if os.path.abspath(a) == os.path.abspath(b):
                raise ValueError(f"{a} is given as two outputs")


def check_device(dev: str) -> str:
    """A torch device this machine has (cpu, cuda, cuda:N): ValueError (exit 2) otherwise."""
    import torch

    try:
        d = torch.device(dev)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"--device {str(dev)[:40]!r} is not a device (cpu, cuda, cuda:N)") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {dev}: no CUDA device is available here (use --device cpu)")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ValueError(f"--device {dev}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif d.type != "cpu":
        raise ValueError(f"--device {dev}: only cpu and cuda are supported")
    return dev


def parse_display(s: str):
    from ..importance.foveation import Display

    try:
        w_m, w_px, h_px, d_m = (v.strip() for v in s.split(","))
        return Display(width_m=float(w_m), width_px=int(w_px), height_px=int(h_px), distance_m=float(d_m))
    except ValueError as exc:
        raise ValueError(f"--display must be WIDTH_M,W_PX,H_PX,DIST_M (e.g. 0.4,1280,720,0.45): {exc}") from None


def emit(report: dict, as_json: bool, text: str, path=None):
    """Print ``text`` (or the JSON report with --json); write the JSON report to ``path`` if given."""
    clean = {k: v for k, v in report.items() if not k.startswith("_")}
    if path:
        from .._atomic import write_text_atomic

        write_text_atomic(path, json.dumps(clean, indent=2, default=float) + "\n")
    if as_json:
        json.dump(clean, sys.stdout, indent=2, default=float)
        sys.stdout.write("\n")
    else:
        print(text)
