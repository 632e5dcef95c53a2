"""What a batch runs: :class:`Item` (one task: one clip, one clip × viewer, or one eval sequence) and
the ways to list them (folders, globs, a manifest CSV)."""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from dataclasses import dataclass, field

from ..errors import InvalidInputError

VIDEO_EXT = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".y4m", ".m4v", ".mpg", ".mpeg", ".ts")
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

# per-item settings a manifest (or the command line, as defaults) may give, with their types
ENCODE_KEYS = {"importance": str, "quality": int, "bitrate": float, "frames": int, "fps": float, "steps": int,
               "rdoq": float, "seed": int, "model": str, "display": str, "predict_ms": float}
DECODE_KEYS = {"steps": int, "lossless": bool, "skip_damaged": bool}


class BatchInputError(InvalidInputError):
    """A batch whose inputs cannot be listed (missing path, bad manifest, duplicate outputs)."""


@dataclass
class Item:
    """One task. ``id`` names it in the results manifest (unique in a batch); ``options`` are the
    per-item settings (keys of ENCODE_KEYS / DECODE_KEYS)."""

    id: str
    command: str           # "encode" | "decode" | "eval"
    input: str
    output: str
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"id": self.id, "command": self.command, "input": self.input, "output": self.output,
                "options": dict(self.options)}


def _fingerprint(path: str) -> list:
    """Size and mtime of a file, or of every file under a folder (what the item reads)."""
    if os.path.isdir(path):
        out = []
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                p = os.path.join(root, f)
                st = os.stat(p)
                out.append([os.path.relpath(p, path), st.st_size, st.st_mtime_ns])
        return out
    if os.path.exists(path):
        st = os.stat(path)
        return [st.st_size, st.st_mtime_ns]
    return []


def settings_hash(item: Item) -> str:
    """sha256 over everything that decides an item's output: command, input (path and the size / mtime
    of what it reads, gaze traces and mask folders included), output path, options, rac_video version
    and the model's weights hash. Equal hash + status ok + output present = nothing to redo."""
    from .. import __version__

    refs = {}
    imp = str(item.options.get("importance") or "")
    kind, _, arg = imp.partition(":")
    if kind in ("gaze", "masks", "saliency") and arg:
        for p in arg.split(",") if kind == "gaze" else [arg]:
            refs[p] = _fingerprint(p)
    blob = {"command": item.command, "input": os.path.abspath(item.input), "input_fp": _fingerprint(item.input),
            "output": os.path.abspath(item.output), "options": item.options, "refs": refs,
            "rac_video": __version__, "weights": _weights_hash(item)}
    return hashlib.sha256(json.dumps(blob, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _weights_hash(item: Item):
    """The model's weights file (size, mtime; hashing it would cost more than a short item)."""
    if item.command != "encode":
        return None
    from ..codec import weights as W

    name = item.options.get("model") or W.DEFAULT_MODEL
    for d in W._dirs():
        if (d / f"{name}.pt").exists():
            return [name, _fingerprint(str(d / f"{name}.pt"))]
    return [name, None]


def _is_clip_folder(path: str) -> bool:
    try:
        names = os.listdir(path)
    except OSError:
        return False
    return any(n.lower().endswith(IMAGE_EXT) for n in names)


def expand_inputs(specs, command: str) -> list[str]:
    """Paths named by ``specs`` (files, folders, globs). For encode a folder of images is one clip; any
    other folder contributes its videos and its image sub-folders; decode takes ``.racv`` files."""
    out = []
    for spec in specs:
        paths = sorted(glob.glob(spec)) if any(c in spec for c in "*?[") else [spec]
        if not paths:
            raise BatchInputError(f"{spec}: no such file, folder or glob match")
        for p in paths:
            if not os.path.exists(p):
                raise BatchInputError(f"{p}: no such file or folder")
            if os.path.isdir(p) and not (command == "encode" and _is_clip_folder(p)):
                for n in sorted(os.listdir(p)):
                    q = os.path.join(p, n)
                    if command == "decode" and n.endswith(".racv"):
                        out.append(q)
                    elif command == "encode" and (n.lower().endswith(VIDEO_EXT) or
                                                  (os.path.isdir(q) and _is_clip_folder(q))):
                        out.append(q)
            else:
                out.append(p)
    return out


def _stem(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    return base if os.path.isdir(path) else os.path.splitext(base)[0]


def _out_ext(command, options):
    return ".racv" if command == "encode" else (".mkv" if options.get("lossless") else ".mp4")


def items_from_paths(paths, command: str, out_dir: str, defaults: dict, per_viewer: bool = False) -> list[Item]:
    items = [Item(id=_stem(p), command=command, input=p, output="", options=dict(defaults)) for p in paths]
    for it in items:
        it.output = os.path.join(out_dir, it.id + _out_ext(command, it.options))
    return _finish(items, per_viewer)


def _convert(key, value, keys):
    typ = keys[key]
    if typ is bool:
        return str(value).strip().lower() in ("1", "true", "yes", "y", "on")
    return typ(value)


def items_from_manifest(path: str, command: str, out_dir: str | None, defaults: dict,
                        per_viewer: bool = False) -> list[Item]:
    """A CSV with a header row: ``input`` (required), ``output``, ``id`` and any per-item setting
    (``importance``, ``quality``, ``bitrate``, ``frames``, ``fps``, ``steps``, ``rdoq``, ``seed``, ``model``,
    ``display``, ``predict_ms``; decode: ``steps``, ``lossless``, ``skip_damaged``). Empty cells take the
    command line's value. Relative paths (inputs, outputs, and the files of ``gaze:`` / ``masks:`` /
    ``saliency:`` specs) are relative to the manifest's folder."""
    keys = ENCODE_KEYS if command == "encode" else DECODE_KEYS
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise BatchInputError(f"{path}: {e.strerror or e}") from None
    if not rows or "input" not in rows[0]:
        raise BatchInputError(f"{path}: a manifest needs a header row with an 'input' column")
    unknown = set(rows[0]) - set(keys) - {"input", "output", "id"}
    if unknown:
        raise BatchInputError(f"{path}: unknown column(s) {', '.join(sorted(unknown))} for batch {command} "
                              f"(known: input, output, id, {', '.join(keys)})")

    def rel(p):
        return p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))

    items = []
    for n, row in enumerate(rows, start=2):
        inp = (row.get("input") or "").strip()
        if not inp:
            raise BatchInputError(f"{path}:{n}: empty input")
        opts = dict(defaults)
        for k in keys:
            v = (row.get(k) or "").strip()
            if v:
                try:
                    opts[k] = _convert(k, v, keys)
                except ValueError:
                    raise BatchInputError(f"{path}:{n}: {k}={v!r} is not a {keys[k].__name__}") from None
        if opts.get("bitrate") and (row.get("quality") or "").strip() == "":
            opts.pop("quality", None)          # a row's bitrate overrides a default quality
        if "importance" in opts:
            kind, sep, arg = opts["importance"].partition(":")
            if sep and kind in ("gaze", "masks", "saliency") and arg:
                arg = ",".join(rel(p) for p in arg.split(",")) if kind == "gaze" else rel(arg)
                opts["importance"] = f"{kind}:{arg}"
        inp = rel(inp)
        rid = (row.get("id") or "").strip() or _stem(inp)
        out = (row.get("output") or "").strip()
        if out:
            out = rel(out)
        elif out_dir:
            out = os.path.join(out_dir, rid + _out_ext(command, opts))
        else:
            raise BatchInputError(f"{path}:{n}: no output column and no -o/--out-dir")
        items.append(Item(id=rid, command=command, input=inp, output=out, options=opts))
    return _finish(items, per_viewer)


def _finish(items, per_viewer):
    """Split multi-viewer gaze items into one item per viewer (``per_viewer``), then check that ids and
    outputs are unique."""
    if per_viewer:
        split = []
        for it in items:
            kind, _, arg = str(it.options.get("importance") or "").partition(":")
            traces = arg.split(",") if kind == "gaze" else []
            if len(traces) < 2:
                split.append(it)
                continue
            root, ext = os.path.splitext(it.output)
            for t in traces:
                v = _stem(t)
                split.append(Item(id=f"{it.id}.{v}", command=it.command, input=it.input, output=f"{root}.{v}{ext}",
                                  options={**it.options, "importance": f"gaze:{t}"}))
        items = split
    seen, outs = set(), set()
    for it in items:
        if it.id in seen:
            raise BatchInputError(f"two items are named {it.id!r}: give distinct ids (manifest 'id' column)")
        o = os.path.abspath(it.output)
        if o in outs:
            raise BatchInputError(f"two items write {it.output}")
        seen.add(it.id)
        outs.add(o)
    return items
