"""Options shared by encode / demo / stream commands (importance source, display geometry, rate)."""
from __future__ import annotations

import json
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
