"""The work of one batch item, run inside an engine's worker process.

``run_item(item_dict, threads)`` never raises: it returns a result row with ``status`` "ok" or
"failed" (with the error and the exit code the single command would have returned), so one bad
clip does not stop the batch. Encode and decode run the ``rac-video encode`` / ``decode`` commands
themselves in the worker (their argument parser, checks and code, from the item's options turned
into their flags), so the outputs are byte-identical to the single commands.
"""
from __future__ import annotations

import argparse
import os
import socket
import time
import traceback


def set_threads(threads: int) -> None:
    """Torch intra-op threads of this worker (workers × threads ≤ cores: no oversubscription)."""
    import torch

    threads = max(1, int(threads))
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def encode_argv(item: dict) -> list[str]:
    """The ``rac-video encode`` arguments of an item: ``importance`` "gaze:TRACES" becomes ``--gaze TRACES``
    (with ``display`` / ``predict_ms``, which only gaze uses), any other spec ``--importance SPEC``."""
    o = item["options"]
    argv = [item["input"], "-o", item["output"], "--no-progress"]
    imp = str(o.get("importance") or "uniform")
    if imp.startswith("gaze:"):
        argv += ["--gaze", imp[len("gaze:"):]]
        if o.get("display"):
            argv += ["--display", str(o["display"])]
        if o.get("predict_ms"):
            argv += ["--predict-ms", repr(float(o["predict_ms"]))]
    else:
        argv += ["--importance", imp]
    if o.get("bitrate"):
        argv += ["-b", repr(float(o["bitrate"]))]
    elif o.get("quality") is not None:
        argv += ["-q", str(int(o["quality"]))]
    for key, flag, typ in (("frames", "--frames", int), ("fps", "--fps", float), ("steps", "--steps", int),
                           ("rdoq", "--rdoq", float), ("seed", "--seed", int), ("model", "--model", str)):
        if o.get(key) is not None:
            argv += [flag, repr(typ(o[key])) if typ is float else str(typ(o[key]))]
    return argv


def decode_argv(item: dict) -> list[str]:
    o = item["options"]
    argv = [item["input"], "-o", item["output"], "--no-progress"]
    if o.get("steps") is not None:
        argv += ["--steps", str(int(o["steps"]))]
    argv += ["--lossless"] if o.get("lossless") else []
    argv += ["--skip-damaged"] if o.get("skip_damaged") else []
    return argv


def run_command(name: str, argv: list[str]) -> tuple[int, dict]:
    """``rac-video NAME ARGV`` in this process, exactly as the command runs (its own argument parser,
    checks and code path): (exit code, its JSON report). Its printed summary is dropped."""
    import contextlib
    import importlib
    import io
    import json
    import tempfile

    mod = importlib.import_module(f"rac_video.commands.{name}")
    p = argparse.ArgumentParser(prog=f"rac-video {name}")
    mod.add_arguments(p)
    out_dir = os.path.dirname(os.path.abspath(argv[argv.index("-o") + 1]))
    fd, report = tempfile.mkstemp(prefix=".batch-report-", suffix=".json", dir=out_dir)
    os.close(fd)
    try:
        args = p.parse_args(argv + ["--report", report])
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = int(mod.run(args) or 0)
        with open(report) as f:
            return rc, json.load(f)
    finally:
        if os.path.exists(report):
            os.unlink(report)


def _encode(item: dict) -> dict:
    rc, rep = run_command("encode", encode_argv(item))
    return {"frames": rep["frames"], "width": rep["width"], "height": rep["height"], "fps": rep["fps"],
            "input_bytes": _size(item["input"]), "output_bytes": rep["file_bytes"], "kbps": rep["kbps"],
            "bpp": rep["bpp"], "quality_mean": rep["quality_mean"], "rate_error": rep.get("rate_error"),
            "codec_seconds": rep["encode_seconds"], "fps_coded": rep["encode_fps"], "_exit": rc}


def _decode(item: dict) -> dict:
    rc, rep = run_command("decode", decode_argv(item))
    return {"frames": rep["frames"], "width": rep["width"], "height": rep["height"], "fps": rep["fps"],
            "input_bytes": os.path.getsize(item["input"]), "output_bytes": os.path.getsize(item["output"]),
            "damaged_frames": rep.get("damaged_frames"), "codec_seconds": rep["decode_seconds"],
            "fps_coded": rep["decode_fps"], "_exit": rc}


def _eval(item: dict) -> dict:
    """One sequence of an eval config: ``run_config`` on a config holding only that sequence."""
    import json

    from ..eval import run as R

    o = item["options"]
    cfg = json.loads(o["config"])
    res = R.run_config(cfg, out_dir=item["output"], max_frames=o.get("frames"), methods=o.get("methods"),
                       use_fvvdp=o.get("fvvdp"), log=lambda *a, **k: None)
    return {"entries": len(res["entries"]), "codec_seconds": res["elapsed_s"],
            "skipped_methods": sorted(res.get("skipped", {}))}


def _size(path) -> int:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path)


RUNNERS = {"encode": _encode, "decode": _decode, "eval": _eval}


def run_item(item: dict, threads: int = 1) -> dict:
    """Run one item; the result row (never raises)."""
    from ..errors import exit_code

    t0 = time.time()
    row = {"id": item["id"], "status": "ok", "error": None, "exit_code": 0, "started": t0,
           "host": socket.gethostname(), "pid": os.getpid(), "threads": int(threads)}
    try:
        set_threads(threads)
        out = os.path.dirname(os.path.abspath(item["output"]))
        os.makedirs(out, exist_ok=True)
        row.update(RUNNERS[item["command"]](item))
        row["exit_code"] = row.pop("_exit", 0)
    except BaseException as exc:  # noqa: BLE001 - reported in the manifest, the batch goes on
        if isinstance(exc, KeyboardInterrupt):
            raise
        row.update(status="failed", error=f"{type(exc).__name__}: {exc}", exit_code=exit_code(exc),
                   traceback=traceback.format_exc(limit=6))
    row["seconds"] = time.time() - t0
    return row
