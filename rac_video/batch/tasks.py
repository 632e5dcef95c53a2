"""The work of one batch item, run inside an engine's worker process.

``run_item(item_dict, threads)`` never raises: it returns a result row with ``status`` "ok" or
"failed" (with the error and the exit code the single command would have returned), so one bad
clip does not stop the batch. Encode and decode call exactly what ``rac-video encode`` / ``decode``
call, with the options built the same way, so their outputs are byte-identical.
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


def encode_options(options: dict):
    """``pipeline.EncodeOptions`` for an item, as ``rac-video encode`` builds them from its flags:
    ``importance`` "gaze:TRACES" behaves as ``--gaze TRACES`` (with ``display`` / ``predict_ms``), any
    other spec as ``--importance SPEC``."""
    from .. import pipeline
    from ..codec.weights import DEFAULT_MODEL
    from ..commands._common import importance_spec

    imp = str(options.get("importance") or "uniform")
    ns = argparse.Namespace(gaze=None, saliency=None, roi=None, importance=None, display=options.get("display"),
                            predict_ms=float(options.get("predict_ms") or 0.0))
    if imp.startswith("gaze:"):
        ns.gaze = imp[len("gaze:"):]
    else:
        ns.importance = imp
    spec, kw = importance_spec(ns)
    bitrate = options.get("bitrate")
    quality = options.get("quality")
    return pipeline.EncodeOptions(quality=None if bitrate else (8 if quality is None else int(quality)),
                                  bitrate_kbps=bitrate, importance=spec, importance_kw=kw, steps=options.get("steps"),
                                  rdoq=options.get("rdoq"), seed=int(options.get("seed") or 0),
                                  model=options.get("model") or DEFAULT_MODEL, device="cpu",
                                  max_frames=options.get("frames"), fps=options.get("fps"))


def _encode(item: dict) -> dict:
    from .. import pipeline

    rep = pipeline.encode_video(item["input"], item["output"], encode_options(item["options"]), progress=False)
    return {"frames": rep["frames"], "width": rep["width"], "height": rep["height"], "fps": rep["fps"],
            "input_bytes": _size(item["input"]), "output_bytes": rep["file_bytes"], "kbps": rep["kbps"], "bpp": rep["bpp"],
            "quality_mean": rep["quality_mean"], "rate_error": rep.get("rate_error"),
            "codec_seconds": rep["encode_seconds"], "fps_coded": rep["encode_fps"]}


def _decode(item: dict) -> dict:
    from .. import pipeline

    o = item["options"]
    rep = pipeline.decode_video(item["input"], item["output"], steps=o.get("steps"),
                                skip_damaged=bool(o.get("skip_damaged")), lossless=bool(o.get("lossless")),
                                progress=False)
    return {"frames": rep["frames"], "width": rep["width"], "height": rep["height"], "fps": rep["fps"],
            "input_bytes": os.path.getsize(item["input"]), "output_bytes": os.path.getsize(item["output"]),
            "damaged_frames": rep["damaged_frames"], "codec_seconds": rep["decode_seconds"],
            "fps_coded": rep["decode_fps"], "_exit": 3 if rep["damaged_frames"] else 0}


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
