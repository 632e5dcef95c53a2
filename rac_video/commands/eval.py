HELP = "evaluate codecs at matched bitrates: rac-video eval CONFIG.toml (or --input FRAMES [--masks DIR | --gaze TRACE])"


def add_arguments(p):
    p.add_argument("config", nargs="?", help="eval config (TOML/JSON, see tools/eval_configs/); "
                   "without it: --input with default methods and rates")
    p.add_argument("--input", help="frames folder or video file to evaluate (when no CONFIG)")
    p.add_argument("--fps", type=float, default=None, help="frame rate of --input image folders (default 25)")
    p.add_argument("--masks", help="with --input: folder of per-frame masks as the importance")
    p.add_argument("--gaze", help="with --input: gaze trace (e.g. GazeCom .coord) as the importance")
    p.add_argument("--out", default=None, help="output folder (default results/eval/<config name>)")
    p.add_argument("--frames", type=int, default=None, help="at most this many frames per sequence")
    p.add_argument("--stride", type=int, default=None, help="keep every n-th frame (with --input)")
    p.add_argument("--sequences", default=None, help="comma-separated names: run only these [[sequence]] entries")
    p.add_argument("--methods", default=None, help="comma-separated methods (default: from the config)")
    p.add_argument("--bpp", default=None, help="comma-separated bpp targets when our codec is absent")
    p.add_argument("--qualities", default=None, help="comma-separated qualities of our codec")
    p.add_argument("--anchor-extra", dest="anchor_extra", default=None,
                   help="comma-separated factors: baselines also at these multiples of the smallest (< 1) or "
                   "largest (> 1) target (widens their curves for BD-rate)")
    p.add_argument("--realism", type=float, default=None, metavar="RHO",
                   help="the decoder's realism ρ in [0, 1] of method ours-realism (default 1; our bitstreams, "
                   "decoded in that mode)")
    p.add_argument("--no-realism-metrics", dest="realism_metrics", action="store_false", default=None,
                   help="leave out the patch-SWD / HF-ratio / block-colour metrics (rac_video.eval.realism)")
    p.add_argument("--fvvdp", dest="fvvdp", action="store_true", default=None, help="FovVideoVDP (needs pyfvvdp)")
    p.add_argument("--no-fvvdp", dest="fvvdp", action="store_false")
    p.add_argument("--plots", action="store_true", help="rate-quality plots (needs matplotlib)")
    p.add_argument("--sidebyside", action="store_true", help="side-by-side videos at the middle rate")
    p.add_argument("--markdown", action="store_true", help="print the result and BD-rate tables as markdown")
    p.add_argument("--bench", default=None, help="also write the small summaries + a README.md report here "
                   "(e.g. benchmarks/eval/NAME)")


def _config_from_args(args):
    import os

    if not args.input:
        raise ValueError("give a CONFIG or --input FRAMES")
    imp = {"type": "uniform"}
    if args.masks:
        imp = {"type": "masks", "dir": args.masks}
    elif args.gaze:
        imp = {"type": "gaze", "trace": args.gaze}
    seq = {"name": os.path.basename(os.path.normpath(args.input)), "frames": os.path.abspath(args.input),
           "importance": imp, "count": args.frames or 24, "stride": args.stride or 1}
    if args.fps:
        seq["fps"] = args.fps
    return {"name": seq["name"], "methods": ["ours", "ours-realism", "ours-uniform", "x264-roi", "x264", "x265-roi", "x265", "jpeg"],
            "sequence": [seq]}


def run(args):
    import os

    from ..eval import run as R

    cfg = R.load_config(args.config) if args.config else _config_from_args(args)
    if args.bpp:
        cfg.setdefault("rates", {})["bpp"] = [float(v) for v in args.bpp.split(",")]
    if args.qualities:
        cfg.setdefault("rates", {})["qualities"] = [int(v) for v in args.qualities.split(",")]
    if args.sequences:
        want = [n.strip() for n in args.sequences.split(",") if n.strip()]
        have = [sc.get("name") for sc in cfg.get("sequence", [])]
        missing = [n for n in want if n not in have]
        if missing:
            raise ValueError(f"--sequences: no sequence named {', '.join(missing)} (have: {', '.join(map(str, have))})")
        cfg["sequence"] = [sc for sc in cfg["sequence"] if sc.get("name") in want]
        cfg["subset"] = {"sequences": want}
    if args.realism is not None:
        import math

        if not (math.isfinite(args.realism) and 0.0 <= args.realism <= 1.0):
            raise ValueError(f"--realism must be in [0, 1], got {args.realism}")
        cfg.setdefault("realism", {})["rho"] = args.realism
    if args.realism_metrics is not None:
        cfg.setdefault("realism", {})["metrics"] = args.realism_metrics
    if args.anchor_extra:
        cfg.setdefault("rates", {})["anchor_extra"] = [float(v) for v in args.anchor_extra.split(",")]
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    out = args.out or os.path.join("results", "eval", cfg.get("name") or "run")
    res = R.run_config(cfg, out_dir=out, max_frames=args.frames, methods=methods, use_fvvdp=args.fvvdp,
                       plots=args.plots, sidebyside=args.sidebyside)
    if args.bench:
        R.write_bench(res, args.bench, command=_command_line(args))
    if args.markdown:
        print(R.summary_table(res))
        print()
        print(R.bd_markdown(res))
    return 0


def _command_line(args):
    """The command that reproduces this run (from the parsed options)."""
    import shlex

    parts = ["rac-video", "eval"] + ([args.config] if args.config else [])
    for opt in ("input", "fps", "masks", "gaze", "out", "frames", "stride", "sequences", "methods", "bpp", "qualities",
                "anchor_extra", "realism", "bench"):
        v = getattr(args, opt)
        if v is not None:
            parts += [f"--{opt.replace('_', '-')}", str(v)]
    if args.fvvdp is not None:
        parts.append("--fvvdp" if args.fvvdp else "--no-fvvdp")
    parts += [f"--{o}" for o in ("plots", "sidebyside") if getattr(args, o)]
    if args.realism_metrics is False:
        parts.append("--no-realism-metrics")
    return " ".join(shlex.quote(p) for p in parts)
