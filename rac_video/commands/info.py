HELP = "what loaded (versions, native backends, per-op backend choice); with FILE.racv: describe the file"


def add_arguments(p):
    p.add_argument("file", nargs="?", help="a .racv file to describe (header, per-frame bits, side-info share)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args):
    if args.file:
        from ..container import describe  # the .racv container module

        return describe(args.file, as_json=args.json)
    from .. import info

    return info.main(["--json"] if args.json else [])
