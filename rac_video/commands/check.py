HELP = ("decode FILEs under several arithmetic variants (oneDNN off / AVX2 / AVX, one thread, each ops backend, "
        "Triton, CUDA) and report frames whose symbols or pixels differ")


def add_arguments(p):
    p.add_argument("file", nargs="+", help=".racv videos or image bitstreams")
    p.add_argument("--variants", help="comma-separated subset of: onednn-off, threads-1, ops-torch, ops-cpu, "
                                      "isa-avx2, isa-avx, omp-1, triton, cuda (default: all but triton)")
    p.add_argument("--triton", action="store_true", help="also decode with every op on Triton (interpreter on "
                                                         "CPU: slow)")
    p.add_argument("--max-frames", type=int, default=None, help="check only the first N frames")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args):
    """Exit 0 when every variant decoded every frame to the same symbols, 3 when one did not."""
    import json
    import os

    from ..check import IN_PROCESS, SUBPROCESS, check_files

    for f in args.file:
        if not os.path.isfile(f):
            raise FileNotFoundError(f"no such file: {f}")
    names = None
    if args.variants:
        names = [v.strip() for v in args.variants.split(",") if v.strip()]
        bad = [v for v in names if v not in (*IN_PROCESS, *SUBPROCESS, "cuda")]
        if bad:
            raise ValueError(f"unknown variant(s) {', '.join(bad)}")
    if args.max_frames is not None and args.max_frames < 1:
        raise ValueError("--max-frames must be >= 1")
    rep = check_files(args.file, variants=names, triton=args.triton, max_frames=args.max_frames)
    if args.json:
        print(json.dumps(rep, indent=2))
    else:
        print(f"{len(rep['files'])} file(s): {rep['frames']} frames, {rep['decodes']} decodes, {rep['failed_decodes']} failed, "
              f"{rep['symbol_differences']} frames with other symbols, {rep['pixel_differences']} with other pixels")
        for name, v in rep["variants"].items():
            if "skipped" in v:
                print(f"  {name:11s} skipped: {v['skipped']}")
            else:
                print(f"  {name:11s} failed {len(v['failed'])}, symbols differ {len(v['symbols_differ'])}, "
                      f"pixels differ {len(v['pixels_differ'])}" + (f"  ({v['errors'][0]})" if v["errors"] else ""))
        print("symbols identical under every variant" if rep["identical_symbols"]
              else "DECODING DEPENDS ON THE ARITHMETIC: this file does not decode the same everywhere")
    return 0 if rep["identical_symbols"] else 3
