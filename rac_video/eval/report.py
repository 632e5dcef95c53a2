"""The JSON a measurement tool leaves under benchmarks/: its command, model and machine, then its data."""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path


def write_report(path: Path, tool: str, argv, codec, **fields) -> dict:
    """Write ``{"command", "model", "weights_sha256", "machine", **fields}`` to ``path`` (folders made).
    ``argv`` is what the tool parsed (None: sys.argv[1:]), ``codec`` the loaded model."""
    import torch

    args = list(argv) if argv is not None else sys.argv[1:]
    out = {"command": " ".join(["python", tool, *args]), "model": codec.name, "weights_sha256": codec.weights_hash,
           "machine": {"host": platform.node(), "cores": os.cpu_count(), "torch": torch.__version__}, **fields}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def comparison_args(parser: argparse.ArgumentParser, flag: str, what: str) -> None:
    """The options of a tool comparing several ``what`` on Kodak: ``flag`` NAME=MODEL_OR_CHECKPOINT,...
    and --model, --data, --limit, --qualities, --out."""
    from .config import data_root

    parser.add_argument(flag, required=True, help=f"NAME=MODEL_OR_CHECKPOINT,... {what} (the first is the reference)")
    parser.add_argument("--model", default=None, help="g_a / g_s and tables from this model (default: the default)")
    parser.add_argument("--data", type=Path, default=Path(data_root()) / "eval" / "kodak")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--qualities", default="0,3,6,9,12,15")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")


def parse_specs(parser: argparse.ArgumentParser, text: str, flag: str) -> dict:
    """``NAME=SPEC,...`` → {name: spec}, in order; at least one, else a usage error."""
    specs = dict(item.split("=", 1) for item in text.split(",") if "=" in item)
    if not specs:
        parser.error(f"{flag} needs NAME=MODEL_OR_CHECKPOINT entries")
    return specs
