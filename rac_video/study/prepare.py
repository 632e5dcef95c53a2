"""Prepared pairs for the 2-AFC study: every source (an image or a short clip) coded by two methods at
matched bytes, written as lossless PNG frames with a manifest.

Layout of a pairs directory::

    manifest.json            {"version": 1, "methods": [A, B], "items": [...], "excluded": [...], ...}
    <item>/source/00000.png  the source frames (never shown blind; the page can show it as a reference)
    <item>/a/00000.png       method A's reconstruction
    <item>/b/00000.png       method B's reconstruction

Matching: our codec's variants ("ours", "ours-realism", "ours-uniform") are encoded at ``quality`` and
set the target; a second variant of ours decodes the *same* bitstream (identical bytes: "ours" vs
"ours-realism" is a pure decoder-side comparison); baselines (x264[-roi], x265[-roi], jpeg, ...) are
matched to that size within ``tol`` (``rac_video.eval.matching``). Without ours, both are matched to
``bpp``. A pair whose sizes end up further apart than ``tol`` is left out and listed in ``excluded``.
The manifest records each side's method, bytes, bpp and parameter, and the ROI (fixation point and
radius of the region where importance ≥ 0.5) for gaze-contingent viewing.
"""
from __future__ import annotations

import json
import os
import re

import numpy as np

OURS = ("ours", "ours-realism", "ours-uniform")
MANIFEST = "manifest.json"
VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class StudyError(ValueError):
    """A study input that cannot be used as given (one-line message)."""


def make_method(name: str, *, fps=25.0, model=None, realism=1.0, preset="medium", roi_strength=12.0):
    """An eval method by name: ours / ours-realism (decoded with ``realism``) / ours-uniform, or a
    baseline of ``rac_video.eval.baselines`` (jpeg, x264[-intra][-roi], x265..., svtav1...)."""
    from ..eval import baselines as B

    if name in OURS:
        from ..eval.ours import OursMethod

        return OursMethod(model=model, uniform=name == "ours-uniform", fps=fps,
                          realism=realism if name == "ours-realism" else 0.0)
    if name == "jpeg":
        return B.make_baseline(name)
    kw = {"fps": fps, "preset": preset}
    if name.endswith("-roi"):
        kw["roi_strength"] = roi_strength
    if name.startswith("svtav1"):
        kw["preset"] = None
    return B.make_baseline(name, **kw)


def roi_geometry(importance, threshold=0.5):
    """(fixation [x, y], radius px) of the region importance ≥ threshold of an (H, W) map: its centroid
    and the radius of a disc of the same area (None, None when the region is empty)."""
    m = np.asarray(importance) >= threshold
    if not m.any():
        return None, None
    yy, xx = np.nonzero(m)
    return [float(xx.mean()), float(yy.mean())], float(np.sqrt(m.sum() / np.pi))


def _write_frames(folder, frames):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    for t, f in enumerate(frames):
        Image.fromarray(np.ascontiguousarray(f)).save(os.path.join(folder, f"{t:05d}.png"), optimize=False)


def _encode_pair(frames, importance, methods, made, *, quality, bpp, tol):
    """[(method, Encoded, decoded frames)] of both methods at matched bytes."""
    from ..eval.matching import match_baseline

    T, H, W, _ = frames.shape
    ours = [m for m in methods if m in OURS]
    out = {}
    if ours:
        first = made[ours[0]]
        enc = first.encode(frames, importance, quality)
        target = enc.nbytes
        for m in ours:   # every variant of ours decodes the one bitstream (the map matters only to "ours-uniform")
            e = enc if m != "ours-uniform" else made[m].encode(frames, None, quality)
            out[m] = (e, e.decode(realism=made[m].realism))
    else:
        target = int(round(bpp * T * H * W / 8))
    for m in methods:
        if m not in out:
            e = match_baseline(made[m], frames, importance, target, tol=tol).encoded
            out[m] = (e, e.decode())
    return target, [(m, *out[m]) for m in methods]


def prepare_pairs(sources, methods, out_dir, *, quality=None, bpp=None, importance="centre", threshold=0.5,
                  tol=0.05, fps=25.0, model=None, realism=1.0, log=print) -> dict:
    """Write a pairs directory (see the module doc) and return its manifest.

    ``sources``: {name: uint8 (H,W,3) image or (T,H,W,3) clip}; ``methods``: two method names;
    ``quality``: our codec's quality (needed when a method is ours), ``bpp``: the target otherwise;
    ``importance``: "centre" (``eval.images.centre_gaussian``), "uniform", or {name: (H,W)/(T,H,W) map}."""
    from ..eval.images import centre_gaussian

    methods = list(methods)
    if len(methods) != 2 or methods[0] == methods[1]:
        raise StudyError(f"a 2-AFC study compares two different methods, got {methods}")
    if any(m in OURS for m in methods) and quality is None:
        raise StudyError("our codec is one of the methods: give its quality")
    if not any(m in OURS for m in methods) and not (bpp and bpp > 0):
        raise StudyError("without our codec, give a positive bpp target")
    if not sources:
        raise StudyError("no sources")
    if os.path.exists(os.path.join(out_dir, MANIFEST)):
        raise StudyError(f"{out_dir} already holds a study ({MANIFEST}): choose a new folder")
    from ..eval.baselines import BaselineError

    try:
        made = {m: make_method(m, fps=fps, model=model, realism=realism) for m in methods}
    except BaselineError as e:
        raise StudyError(str(e)) from None
    items, excluded = [], []
    for name, src in sources.items():
        if not _NAME.match(str(name)):
            raise StudyError(f"source name {name!r}: use letters, digits, '.', '_' or '-'")
        f = np.asarray(src)
        f = f[None] if f.ndim == 3 else f
        if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
            raise StudyError(f"source {name}: expected uint8 (H,W,3) or (T,H,W,3), got {f.dtype} {f.shape}")
        T, H, W, _ = f.shape
        if H % 2 or W % 2:   # 4:2:0 baselines need even sides
            f = f[:, : H - H % 2, : W - W % 2]
            T, H, W, _ = f.shape
        if isinstance(importance, dict):
            imp = np.asarray(importance[name], np.float32)
        elif importance == "centre":
            imp = centre_gaussian(H, W)
        elif importance == "uniform":
            imp = np.ones((H, W), np.float32)
        else:
            raise StudyError(f"importance must be 'centre', 'uniform' or a dict of maps, got {importance!r}")
        imp_t = np.broadcast_to(imp, (T, H, W)) if imp.ndim == 2 else imp
        target, coded = _encode_pair(f, imp_t, methods, made, quality=quality, bpp=bpp, tol=tol)
        sizes = [e.nbytes for _, e, _ in coded]
        rel = max(sizes) / min(sizes) - 1
        item_id = f"{name}-q{quality}" if quality is not None else f"{name}-bpp{bpp:g}"
        rec = {"id": item_id, "name": str(name), "kind": "image" if T == 1 else "clip", "frames": T, "fps": fps,
               "width": W, "height": H, "target_bytes": int(target), "rel_diff": rel}
        for side, (m, e, dec) in zip("ab", coded):
            rec[side] = {"method": m, "bytes": int(e.nbytes), "bpp": 8.0 * e.nbytes / (T * H * W),
                         "param": e.param, "dir": f"{item_id}/{side}"}
        fx, rad = roi_geometry(imp_t[0], threshold)
        rec["fixation"], rec["roi_radius"] = fx, rad
        if rel > tol:
            excluded.append({**rec, "why": f"sizes {sizes} differ by {rel:.1%} > {tol:.0%}"})
            log(f"[study] {item_id}: left out, sizes {sizes} differ by {rel:.1%}")
            continue
        _write_frames(os.path.join(out_dir, item_id, "source"), f)
        for side, (_, _, dec) in zip("ab", coded):
            _write_frames(os.path.join(out_dir, item_id, side), dec)
        items.append(rec)
        log(f"[study] {item_id}: {coded[0][0]} {sizes[0]} B vs {coded[1][0]} {sizes[1]} B ({rel:+.1%})")
    manifest = {"version": VERSION, "methods": methods, "quality": quality, "bpp": bpp, "tolerance": tol,
                "importance": importance if isinstance(importance, str) else "given", "threshold": threshold,
                "realism": realism if "ours-realism" in methods else None,
                "described": {m: made[m].describe() for m in methods}, "items": items, "excluded": excluded}
    os.makedirs(out_dir, exist_ok=True)
    from .._atomic import write_text_atomic

    write_text_atomic(os.path.join(out_dir, MANIFEST), json.dumps(manifest, indent=1, default=str) + "\n")
    return manifest


def load_sources(path, *, count=1, stride=1, limit=None, scale=1) -> dict:
    """{name: frames} from a folder of images (each image a source: ``count`` = 1) or a folder of clip
    folders / video files (each one clip of ``count`` frames)."""
    from ..eval.sources import SourceError, load_frames

    if not os.path.isdir(path):
        raise StudyError(f"{path}: not a folder")
    entries = sorted(os.listdir(path))
    out = {}
    exts = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
    imgs = [e for e in entries if e.lower().endswith(exts)]
    try:
        if imgs and count == 1:
            from PIL import Image

            for e in imgs[:limit]:
                with Image.open(os.path.join(path, e)) as im:
                    a = np.asarray(im.convert("RGB"))
                if scale > 1:
                    a = np.asarray(Image.fromarray(a).reduce(scale))
                out[_clean(os.path.splitext(e)[0])] = a
        else:
            clips = [e for e in entries if os.path.isdir(os.path.join(path, e))
                     or e.lower().endswith((".mp4", ".mkv", ".avi", ".mov", ".webm", ".y4m"))]
            if imgs and not clips:   # one folder of frames: one clip
                clips = [None]
            for e in clips[:limit]:
                p = path if e is None else os.path.join(path, e)
                fr = load_frames(p, count=count, stride=stride, scale=scale)
                frames = fr[0] if isinstance(fr, tuple) else fr
                out[_clean(os.path.basename(os.path.normpath(p)) if e is None else os.path.splitext(e)[0])] = frames
    except (SourceError, OSError) as exc:
        raise StudyError(f"{path}: {exc}") from None
    if not out:
        raise StudyError(f"{path}: no images or clips found")
    return out


def _clean(name):
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:64]
    return s if s and s[0].isalnum() else "s" + s[:63]
