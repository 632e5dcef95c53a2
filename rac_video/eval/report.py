"""The record every measurement tool leaves under benchmarks/: its command, model and machine, then its data.

One schema for every writer there: ``{"command", "model", "weights_sha256", "machine", **fields}``.
``model`` / ``weights_sha256`` are null for a benchmark that runs no codec model (kernels, rANS, I/O,
gaze statistics) or several (each named in its rows); ``machine`` is :func:`machine_record`, the one
description of the machine (a tool adds its own entries, e.g. the load average, never redefines these).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

RECORD_KEYS = ("command", "model", "weights_sha256", "machine")
MACHINE_KEYS = ("host", "cores", "usable_cores", "cpu", "platform", "python", "torch", "threads")


def cpu_model() -> str:
    """The CPU's model string (/proc/cpuinfo's "model name"; elsewhere what platform says)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_record(*, gpu: bool | None = None, **extra) -> dict:
    """host, cores (logical CPUs), usable_cores (this process's affinity), cpu (model string), platform,
    python, torch (version), threads (torch's intra-op threads) and, for a run on CUDA, gpu (the device's
    name); then ``extra``. ``gpu``: None = when this process has initialised CUDA (the run used it)."""
    import torch

    clash = sorted(set(extra) & {*MACHINE_KEYS, "gpu"})
    if clash:
        raise ValueError(f"machine_record: {', '.join(clash)} is part of the common machine block, not an extra")
    out = {"host": platform.node() or "unknown", "cores": os.cpu_count(),
           "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
           "cpu": cpu_model(), "platform": platform.platform(), "python": platform.python_version(),
           "torch": torch.__version__, "threads": torch.get_num_threads()}
    if (torch.cuda.is_initialized() if gpu is None else gpu) and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name(0)
    return {**out, **extra}


def command_line(tool: str, argv=None) -> str:
    """The command as typed: ``python TOOL ARGS`` for a script (``tool`` ends in .py), else ``TOOL ARGS``
    (a console command such as ``rac-video bench kernels``). ``argv`` None: sys.argv[1:]."""
    args = [str(a) for a in (argv if argv is not None else sys.argv[1:])]
    return " ".join((["python", tool] if tool.endswith(".py") else [tool]) + args)


def _model_of(codec) -> tuple[str | None, str | None]:
    if codec is None:
        return None, None
    if isinstance(codec, str):                      # an installed model's name: its record's hash, no loading
        from ..codec.weights import read_record

        return codec, read_record(codec)["sha256"]
    name, digest = getattr(codec, "name", None), getattr(codec, "weights_hash", None)
    if not isinstance(name, str) or not isinstance(digest, str):
        raise TypeError(f"codec must be None, a model name or a loaded model (with .name and .weights_hash), "
                        f"not {type(codec).__name__}")
    return name, digest


def benchmark_record(tool: str, argv=None, codec=None, *, machine: dict | None = None, **fields) -> dict:
    """``{"command", "model", "weights_sha256", "machine", **fields}``. ``argv``: what the tool parsed
    (None: sys.argv[1:]); ``codec``: the loaded model, an installed model's name, or None (no model, or
    several named in the rows); ``machine``: a :func:`machine_record` with the tool's extras (default: a plain one)."""
    clash = sorted(set(fields) & set(RECORD_KEYS))
    if clash:
        raise ValueError(f"benchmark_record: {', '.join(clash)} is set by the record itself, not a data field")
    name, digest = _model_of(codec)
    return {"command": command_line(tool, argv), "model": name, "weights_sha256": digest,
            "machine": machine_record() if machine is None else machine, **fields}


def check_record(record) -> dict:
    """``record`` if it follows the schema, else ValueError naming what is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"a benchmark record is a JSON object, not {type(record).__name__}")
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise ValueError(f"benchmark record without {', '.join(missing)}")
    if not isinstance(record["command"], str) or not record["command"]:
        raise ValueError("benchmark record: command must be a non-empty string")
    for k in ("model", "weights_sha256"):
        if record[k] is not None and not isinstance(record[k], str):
            raise ValueError(f"benchmark record: {k} must be a string or null")
    if (record["model"] is None) != (record["weights_sha256"] is None):
        raise ValueError("benchmark record: model and weights_sha256 come together (both null or both set)")
    m = record["machine"]
    if not isinstance(m, dict) or [k for k in MACHINE_KEYS if k not in m]:
        raise ValueError(f"benchmark record: machine must hold {', '.join(MACHINE_KEYS)}")
    return record


def write_record(path, record: dict) -> dict:
    """Check ``record`` and write it to ``path`` as indented JSON (folders made); returns it."""
    check_record(record)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")
    return record


def write_report(path, tool: str, argv, codec=None, *, machine: dict | None = None, **fields) -> dict:
    """:func:`benchmark_record` written to ``path`` (folders made); returns the record."""
    return write_record(path, benchmark_record(tool, argv, codec, machine=machine, **fields))


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
