HELP = "encode / decode / evaluate many inputs in parallel (local process pool or Ray), resumable"

EPILOG = """\
examples:
  rac-video batch encode clips/ -o out/ -q 8                    # every video / image folder in clips/
  rac-video batch encode 'clips/*.mp4' -o out/ --workers 2 --threads 1
  rac-video batch encode --manifest clips.csv -o out/ --engine ray   # a local Ray cluster
  rac-video batch encode --manifest clips.csv -o out/ --engine ray --address auto  # an existing one
  rac-video batch decode out/ -o decoded/
  rac-video batch eval tools/eval_configs/basketballpass_gaze.toml --out results/eval/bp

manifest CSV (encode): input,output,id,importance,quality,bitrate,frames,fps,steps,rdoq,seed,model,display,predict_ms
  e.g.  input,importance,quality
        a.mp4,gaze:a_viewer1.coord,8
        b.mp4,masks:masks/b,6
(decode: input,output,id,steps,lossless,skip_damaged). Empty cells take the command line's values;
relative paths are relative to the manifest. --per-viewer splits gaze:A,B,... into one item per viewer.

results: OUT/batch-results.json and .csv (per item: status, sizes, quality, timings, settings hash).
A re-run skips the items already done with the same settings (--no-resume: redo all). Exit code 0
when every item succeeded, else the largest exit code of the failed items (1 I/O, 2 bad input).
"""


def _common(p, outputs=True):
    if outputs:
        p.add_argument("-o", "--out-dir", default=None, help="folder for the outputs (and batch-results.json)")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: a process pool on this machine (default); ray: a Ray cluster")
    p.add_argument("--address", default=None, help="with --engine ray: an existing cluster (auto, host:port, "
                   "ray://host:10001); default: start a local one")
    p.add_argument("--workers", type=int, default=None, help="tasks at a time (default: cores / threads)")
    p.add_argument("--threads", type=int, default=None, help="torch threads per task (default: cores / workers)")
    p.add_argument("--results", default=None, help="results manifest (default OUT/batch-results.json)")
    p.add_argument("--no-resume", action="store_true", help="redo items already done with the same settings")
    p.add_argument("--json", action="store_true", help="print the results manifest as JSON")
    p.add_argument("--no-progress", action="store_true")


def add_arguments(p):
    import argparse

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    sub = p.add_subparsers(dest="batch_command", metavar="{encode,decode,eval}")
    e = sub.add_parser("encode", help="encode many clips to .racv", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("inputs", nargs="*", help="video files, image folders, folders of them, or globs")
    e.add_argument("--manifest", default=None, help="CSV of items (see below)")
    e.add_argument("--per-viewer", action="store_true", help="one item per gaze trace of gaze:A,B,... specs")
    g = e.add_argument_group("settings of every item (a manifest column overrides them)")
    g.add_argument("--importance", default=None, metavar="SPEC",
                   help="uniform | saliency[:PATH] | masks:PATH | boxes:... | gaze:TRACE[,TRACE...]")
    g.add_argument("--display", default=None, metavar="WIDTH_M,W_PX,H_PX,DIST_M", help="as rac-video encode")
    g.add_argument("--predict-ms", type=float, default=None)
    r = g.add_mutually_exclusive_group()
    r.add_argument("-q", "--quality", type=int, default=None)
    r.add_argument("-b", "--bitrate", type=float, default=None)
    for name, typ in (("frames", int), ("fps", float), ("steps", int), ("rdoq", float), ("seed", int),
                      ("model", str)):
        g.add_argument(f"--{name}", type=typ, default=None)
    _common(e)
    d = sub.add_parser("decode", help="decode many .racv files", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("inputs", nargs="*", help=".racv files, folders of them, or globs")
    d.add_argument("--manifest", default=None, help="CSV of items: input,output,id,steps,lossless,skip_damaged")
    d.add_argument("--steps", type=int, default=None)
    d.add_argument("--lossless", action="store_true")
    d.add_argument("--skip-damaged", action="store_true")
    _common(d)
    v = sub.add_parser("eval", help="an eval config's sequences in parallel (one task per sequence)")
    v.add_argument("config", help="eval config (TOML/JSON) as for rac-video eval")
    v.add_argument("--out", default=None, help="output folder (default results/eval/<config name>)")
    v.add_argument("--frames", type=int, default=None)
    v.add_argument("--sequences", default=None, help="comma-separated names: only these sequences")
    v.add_argument("--methods", default=None)
    v.add_argument("--qualities", default=None)
    v.add_argument("--fvvdp", dest="fvvdp", action="store_true", default=None)
    v.add_argument("--no-fvvdp", dest="fvvdp", action="store_false")
    _common(v, outputs=False)


def _encode_defaults(args) -> dict:
    keys = ("importance", "display", "predict_ms", "quality", "bitrate", "frames", "fps", "steps", "rdoq", "seed",
            "model")
    return {k: getattr(args, k) for k in keys if getattr(args, k) is not None}


def _items(args):
    from ..batch import items as I

    cmd = args.batch_command
    defaults = _encode_defaults(args) if cmd == "encode" else \
        {k: v for k, v in (("steps", args.steps), ("lossless", args.lossless or None),
                           ("skip_damaged", args.skip_damaged or None)) if v is not None}
    per_viewer = getattr(args, "per_viewer", False)
    out = []
    if args.manifest:
        out += I.items_from_manifest(args.manifest, cmd, args.out_dir, defaults, per_viewer)
    if args.inputs:
        if not args.out_dir:
            raise I.BatchInputError("give -o/--out-dir for the outputs")
        out += I.items_from_paths(I.expand_inputs(args.inputs, cmd), cmd, args.out_dir, defaults, per_viewer)
    if not out:
        raise I.BatchInputError(f"batch {cmd}: no inputs (give files, folders, globs or --manifest)")
    if len(out) > 1:
        out = I._finish(out, False)
    return out


def _eval_items(args):
    import json
    import os

    from ..batch.items import Item
    from ..eval import run as R

    cfg = R.load_config(args.config)
    if args.qualities:
        cfg.setdefault("rates", {})["qualities"] = [int(v) for v in args.qualities.split(",")]
    seqs = cfg.get("sequence", [])
    if args.sequences:
        want = [n.strip() for n in args.sequences.split(",") if n.strip()]
        missing = [n for n in want if n not in [s.get("name") for s in seqs]]
        if missing:
            raise ValueError(f"--sequences: no sequence named {', '.join(missing)}")
        seqs = [s for s in seqs if s.get("name") in want]
    if not seqs:
        raise R.EvalConfigError("config has no [[sequence]] entries")
    out = args.out or os.path.join("results", "eval", cfg.get("name") or "run")
    methods = [m.strip() for m in args.methods.split(",")] if args.methods else None
    items = []
    for s in seqs:
        sub = {**cfg, "sequence": [s]}
        items.append(Item(id=str(s.get("name")), command="eval", input=args.config,
                          output=os.path.join(out, "sequences", str(s.get("name"))),
                          options={"config": json.dumps(sub, sort_keys=True, default=str), "frames": args.frames,
                                   "methods": methods, "fvvdp": args.fvvdp}))
    return cfg, out, items


def _merge_eval(cfg, out, rows):
    """One results.json / summary / bdrate for the whole config from the per-sequence runs."""
    import json
    import os
    import time

    from ..eval import run as R

    merged = {"name": cfg.get("name"), "config": {k: v for k, v in cfg.items() if not k.startswith("_")},
              "config_path": cfg.get("_config_path"), "environment": R.environment(), "methods": {}, "skipped": {},
              "entries": [], "bdrate": [], "sequences": {}, "batch": True}
    for r in rows:
        if r["status"] not in ("ok", "skipped"):
            continue
        with open(os.path.join(r["output"], "results.json")) as f:
            res = json.load(f)
        for k in ("methods", "skipped", "sequences"):
            merged[k].update(res.get(k, {}))
        merged["entries"] += res["entries"]
        merged["bdrate"] += res["bdrate"]
    merged["headline"] = R.headline(merged)
    merged["elapsed_s"] = sum(float(r.get("seconds") or 0) for r in rows)
    merged["written"] = time.time()
    R.write_outputs(merged, out)
    return merged


def run(args):
    import json
    import os
    import sys

    from ..batch.engines import default_workers_threads, make_engine
    from ..batch.runner import run_batch

    if not getattr(args, "batch_command", None):
        raise ValueError("batch: give encode, decode or eval (rac-video batch -h)")
    if args.batch_command == "eval":
        cfg, out_dir, items = _eval_items(args)
    else:
        items = _items(args)
        out_dir = args.out_dir or os.path.dirname(os.path.abspath(items[0].output))
    results = args.results or os.path.join(out_dir, "batch-results.json")
    workers, threads = default_workers_threads(args.workers, args.threads)
    workers = min(workers, len(items))
    engine = make_engine(args.engine, workers, threads, args.address)
    quiet = args.json or args.no_progress
    try:
        man = run_batch(items, engine, results, resume=not args.no_resume, progress=not quiet,
                        log=(lambda *a: print(*a, file=sys.stderr)))
    finally:
        engine.close()
    if args.batch_command == "eval":
        _merge_eval(cfg, out_dir, man["items"])
    failed = [r for r in man["items"] if r["status"] == "failed"]
    if args.json:
        json.dump(man, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        ok = sum(r["status"] == "ok" for r in man["items"])
        skipped = sum(r["status"] == "skipped" for r in man["items"])
        print(f"batch {args.batch_command}: {ok} ok, {skipped} skipped (done before), {len(failed)} failed of "
              f"{len(items)} in {man['wall_seconds']:.1f} s on {engine.name} ({workers} workers x {threads} threads); "
              f"results {results}")
        for r in failed:
            print(f"  failed {r['id']}: {r.get('error')}", file=sys.stderr)
    if failed:
        return max(int(r.get("exit_code") or 1) for r in failed)
    return max([int(r.get("exit_code") or 0) for r in man["items"]] + [0])
