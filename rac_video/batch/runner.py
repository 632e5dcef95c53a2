"""Run a list of items on an engine with a results manifest that makes batches resumable.

The manifest (``results.json``, and ``results.csv`` beside it) holds one row per item: id, status
(ok / failed / skipped), error and exit code, input / output and their sizes, frames, kbit/s, bpp,
mean quality, seconds, worker host and pid, and the item's settings hash. It is rewritten (atomically)
after every finished item, so an interrupted batch loses only the items in flight. On a re-run, an item
whose row says ok with the same settings hash and whose output still exists is skipped (status
"skipped", its previous numbers kept); everything else runs.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
import time

from .._atomic import write_text_atomic
from .items import Item, settings_hash

CSV_COLUMNS = ("id", "status", "exit_code", "input", "output", "frames", "width", "height", "input_bytes",
               "output_bytes", "kbps", "bpp", "quality_mean", "seconds", "codec_seconds", "host", "pid", "threads",
               "settings_hash", "error")


def load_results(path) -> dict:
    """The rows of an earlier manifest by id ({} when there is none or it is unreadable)."""
    try:
        with open(path) as f:
            return {r["id"]: r for r in json.load(f).get("items", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_results(path, meta: dict, rows: list) -> None:
    write_text_atomic(path, json.dumps({**meta, "items": rows}, indent=1, default=str) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow(["" if r.get(k) is None else (f"{r[k]:.6g}" if isinstance(r.get(k), float) else r[k])
                    for k in CSV_COLUMNS])
    write_text_atomic(os.path.splitext(path)[0] + ".csv", buf.getvalue())


def run_batch(items: list[Item], engine, results_path, *, resume: bool = True, progress: bool = True,
              log=print) -> dict:
    """Run ``items`` on ``engine``; returns the manifest dict (also written to ``results_path``)."""
    from tqdm import tqdm

    os.makedirs(os.path.dirname(os.path.abspath(results_path)) or ".", exist_ok=True)
    previous = load_results(results_path) if resume else {}
    rows, todo = {}, []
    for it in items:
        h = settings_hash(it)
        base = {"id": it.id, "command": it.command, "input": it.input, "output": it.output, "settings_hash": h,
                "options": it.options}
        old = previous.get(it.id)
        if old and old.get("status") in ("ok", "skipped") and old.get("settings_hash") == h and \
                os.path.exists(it.output):
            rows[it.id] = {**old, **base, "status": "skipped", "resumed_from": old.get("finished")}
        else:
            rows[it.id] = {**base, "status": "pending"}
            todo.append(it)
    t0 = time.time()
    meta = {"engine": engine.describe(), "started": t0, "items_total": len(items), "items_run": len(todo),
            "items_skipped": len(items) - len(todo)}
    order = [it.id for it in items]

    def flush():
        write_results(results_path, meta, [rows[i] for i in order])

    flush()
    if len(items) > len(todo):
        log(f"batch: {len(items) - len(todo)} of {len(items)} items already done with the same settings: skipped")
    bar = tqdm(total=len(todo), desc=f"batch {items[0].command if items else ''}", unit="item", disable=not progress or not todo)
    failed = 0
    try:
        for res in engine.run([it.to_dict() for it in todo]):
            res["finished"] = time.time()
            rows[res["id"]] = {**rows[res["id"]], **res}
            if res["status"] != "ok":
                failed += 1
                bar.write(f"batch: {res['id']} failed: {res.get('error')}", file=sys.stderr)
            bar.update(1)
            bar.set_postfix(failed=failed)
            flush()
    finally:
        bar.close()
    meta.update(wall_seconds=time.time() - t0, finished=time.time(),
                items_ok=sum(r["status"] == "ok" for r in rows.values()), items_failed=failed)
    flush()
    return {**meta, "items": [rows[i] for i in order]}
