HELP = "blind 2-AFC study at equal bytes: prepare pairs, serve the page (answers to CSV), summarize"


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    a = sub.add_parser("prepare", help="code sources with two methods at matched bytes into a pairs folder")
    a.add_argument("sources", help="folder of images (each one a source), or of clips / with --count > 1 frames")
    a.add_argument("--methods", required=True, help="two methods, e.g. ours-realism,x264-roi or ours,ours-realism "
                   "(ours, ours-realism, ours-uniform, jpeg, x264[-intra][-roi], x265..., svtav1)")
    a.add_argument("--out", required=True, help="new folder for the pairs")
    a.add_argument("--quality", type=int, default=None, help="our codec's quality (its size is the target)")
    a.add_argument("--bpp", type=float, default=None, help="target bpp when neither method is ours")
    a.add_argument("--importance", choices=("centre", "uniform"), default="centre",
                   help="importance map of every source (default: a centre Gaussian)")
    a.add_argument("--realism", type=float, default=1.0, help="ρ of ours-realism (default 1)")
    a.add_argument("--count", type=int, default=1, help="frames per source (> 1: clips)")
    a.add_argument("--stride", type=int, default=1)
    a.add_argument("--scale", type=int, default=1, help="downscale sources by this integer factor")
    a.add_argument("--limit", type=int, default=None, help="at most this many sources")
    a.add_argument("--tolerance", type=float, default=0.05, help="largest relative size difference of a pair")
    a.add_argument("--fps", type=float, default=25.0, help="clip playback rate")
    a.add_argument("--model", default=None, help="our codec's model (default: the shipped default)")
    s = sub.add_parser("serve", help="serve the study page on 127.0.0.1 and append answers to a CSV")
    s.add_argument("pairs", help="pairs folder (rac-video study prepare)")
    s.add_argument("--answers", required=True, help="CSV file the answers are appended to")
    s.add_argument("--participant", default="anonymous")
    s.add_argument("--gaze", action="store_true", help="mouse-contingent viewing: one picture at a time, visible "
                   "only while the mouse (the gaze) rests in the ROI")
    s.add_argument("--reference", action="store_true", help="also show the source (free viewing only)")
    s.add_argument("--repeats", type=int, default=1, help="times each pair is shown (sides drawn anew)")
    s.add_argument("--seed", type=int, default=None, help="trial order and sides (default: random, recorded)")
    s.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free one)")
    s.add_argument("--exit-when-done", action="store_true", help="stop once every trial is answered")
    m = sub.add_parser("summary", help="preference per method pair with Wilson intervals, from answer CSVs")
    m.add_argument("answers", nargs="+", help="answer CSV file(s)")
    m.add_argument("--json", action="store_true")
    m.add_argument("--confidence", type=float, default=0.95)


def run(args):
    if not getattr(args, "action", None):
        raise ValueError("give an action: prepare, serve or summary (rac-video study -h)")
    return {"prepare": _prepare, "serve": _serve, "summary": _summary}[args.action](args)


def _prepare(args):
    import math

    from ..study import load_sources, prepare_pairs

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.count < 1 or args.stride < 1 or args.scale < 1:
        raise ValueError("--count, --stride and --scale must be positive")
    if not (math.isfinite(args.realism) and 0 <= args.realism <= 1):
        raise ValueError(f"--realism must be in [0, 1], got {args.realism}")
    if not 0 < args.tolerance < 1:
        raise ValueError("--tolerance must be in (0, 1)")
    if args.bpp is not None and not (math.isfinite(args.bpp) and args.bpp > 0):
        raise ValueError("--bpp must be positive")
    sources = load_sources(args.sources, count=args.count, stride=args.stride, limit=args.limit, scale=args.scale)
    man = prepare_pairs(sources, methods, args.out, quality=args.quality, bpp=args.bpp, importance=args.importance,
                        tol=args.tolerance, fps=args.fps, model=args.model, realism=args.realism)
    print(f"{len(man['items'])} pairs in {args.out} ({len(man['excluded'])} left out: sizes not matched)")
    return 0 if man["items"] else 1


def _serve(args):
    import time

    from ..study.server import StudyServer

    srv = StudyServer(args.pairs, args.answers, participant=args.participant, gaze=args.gaze,
                      reference=args.reference, repeats=args.repeats, seed=args.seed, port=args.port).start()
    print(f"study: {len(srv.trials)} trials at {srv.url} (answers -> {srv.csv_path}); Ctrl-C to stop", flush=True)
    try:
        while not (args.exit_when_done and srv.finished.is_set()):
            time.sleep(0.2)
        print(f"study: every trial answered ({srv.csv_path})")
    finally:
        srv.close()
    return 0


def _summary(args):
    import json

    from ..study.stats import read_answers, summarize, summary_text

    rows = []
    for p in args.answers:
        rows += read_answers(p)
    if not rows:
        raise ValueError("no answers in " + ", ".join(args.answers))
    if not 0 < args.confidence < 1:
        raise ValueError("--confidence must be in (0, 1)")
    s = summarize(rows, args.confidence)
    print(json.dumps(s, indent=1) if args.json else summary_text(s))
    return 0
