"""``rac-video``: one entry point; each subcommand is a module of ``rac_video.commands``.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and
``run(args) -> int`` (the exit code). Modules are found automatically, so a new command is a
new file. Exit codes: 0 ok, 1 failure (I/O), 2 bad usage or bad input (including corrupt streams and model
mismatch), 3 decoded but damaged frames were skipped (``decode --skip-damaged``). A
``rac_video.errors.RacVideoError`` carries its own code (``exit_code``; the table is in that module);
builtin errors not yet wrapped keep the old mapping (``ValueError`` and missing paths 2, ``OSError`` 1).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

from . import commands
from .errors import RacVideoError, exit_code


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="rac-video", description="Region-adaptive generative video codec.")
    parser.add_argument("--version", action="version", version=f"rac_video {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log backend choices and progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for m in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if m.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{commands.__name__}.{m.name}")
        p = sub.add_parser(m.name.replace("_", "-"), help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `rac-video train --stage 0 ...` hands everything after "train" to the trainer's own parser (argparse's
    # REMAINDER does not take arguments that start with an option)
    cut = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if cut is not None and argv[cut] == "train":
        args = parser.parse_args(argv[:cut + 1])
        args.train_args = argv[cut + 1:]
    else:
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except RacVideoError as exc:
        print(f"rac-video {args.command}: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        print(f"rac-video {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unwritable output, disk full, a video PyAV cannot open
        print(f"rac-video {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
