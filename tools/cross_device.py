#!/usr/bin/env python
"""Does a file written on one device decode on another? And how fast is the codec at 1080p there?

Encodes every (image, quality) with the codec on device A and on device B, then decodes each
device's bytes on the other one, and counts: identical bytes, decodes that fail (an exception) and
decodes that succeed but differ visibly (max |Δ| > 2 levels) from the encoding device's own decode.

    python tools/cross_device.py --a cuda --b cpu --out xdev-gpu.json          # a GPU machine
    python tools/cross_device.py --a cpu --b cpu-native --count 2 --crop 256   # stand-in without a GPU

Devices: ``cuda``, ``cpu`` (torch's default CPU convolutions: oneDNN), ``cpu-native`` (oneDNN off:
torch's own convolutions, another arithmetic on the same machine). Images: the PNG/JPEG files of
``--images`` and its subfolders (default ../shared/data/eval/kodak), else deterministic synthetic images, so it needs
no data and no PyAV. Until the entropy model is integer, failures between arithmetic classes
(rac_video.arith) are expected; the report names both classes. ``--speed WxH`` times encode and
decode of one frame of that size on device A (batch 1, after warm-up).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = ROOT.parent / "shared" / "data" / "eval" / "kodak"
DEVICES = ("cuda", "cpu", "cpu-native")


def synthetic_images(count: int, height: int = 512, width: int = 768):
    """Smooth colour fields, hard-edged shapes and fine noise: enough structure to exercise every symbol path."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    out = []
    for i in range(count):
        g = torch.Generator().manual_seed(1000 + i)
        low = F.interpolate(torch.rand(1, 3, 6, 9, generator=g), size=(height, width), mode="bicubic",
                            align_corners=False)[0]
        img = low.clamp(0, 1).permute(1, 2, 0).numpy() * 200 + 20
        rng = np.random.default_rng(i)
        for _ in range(12):
            y0, x0 = rng.integers(0, height - 32), rng.integers(0, width - 32)
            h, w = rng.integers(16, height // 3), rng.integers(16, width // 3)
            img[y0:y0 + h, x0:x0 + w] = rng.integers(0, 256, 3)
        img += rng.normal(0, 6, img.shape)
        out.append((f"synthetic-{i}", np.clip(img, 0, 255).astype(np.uint8)))
    return out


def _centre_crop(a, size: int):
    h, w = a.shape[:2]
    ch, cw = min(size, h), min(size, w)
    y0, x0 = (h - ch) // 2, (w - cw) // 2
    return a[y0:y0 + ch, x0:x0 + cw].copy()


def load_images(folder: Path | None, count: int, crop: int):
    import numpy as np
    from PIL import Image

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")) \
        if folder and folder.is_dir() else []
    imgs = [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in files[:count]]
    if not imgs:
        imgs = synthetic_images(count)
    if crop:
        imgs = [(n, _centre_crop(a, crop)) for n, a in imgs]
    return imgs, ("files of " + str(folder)) if files else "synthetic (no image folder found)"


@contextlib.contextmanager
def _arith_of(spec: str):
    """Run with the arithmetic of device spec ``spec`` (``cpu-native``: oneDNN off for the block)."""
    import torch

    if spec != "cpu-native":
        yield
        return
    old = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = old


def _class_of(spec: str) -> str:
    from rac_video import arith

    with _arith_of(spec):
        return arith.arith_class("cpu" if spec.startswith("cpu") else spec)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", default="cuda", choices=DEVICES, help="device A (encodes, decodes B's files)")
    p.add_argument("--b", default="cpu", choices=DEVICES, help="device B")
    p.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    p.add_argument("--count", type=int, default=4, help="images used (default 4)")
    p.add_argument("--qualities", default="0,4,8,12,15")
    p.add_argument("--crop", type=int, default=0, help="centre crop to at most this size (0: whole images)")
    p.add_argument("--speed", default="1920x1080", help="WxH frame timed on device A; '0' skips")
    p.add_argument("--speed-repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="JSON report (default: print only)")
    args = p.parse_args(argv)
    try:
        qualities = [int(q) for q in args.qualities.split(",")]
        speed = None if args.speed in ("0", "") else tuple(int(v) for v in args.speed.lower().split("x"))
        if speed is not None and (len(speed) != 2 or min(speed) < 16):
            raise ValueError(args.speed)
    except ValueError:
        print("cross_device: --qualities must be ints like 0,8,15 and --speed WxH (or 0)", file=sys.stderr)
        return 2
    import numpy as np
    import torch

    import rac_video.codec as C
    from rac_video.codec import load_model
    from rac_video.eval.report import machine_record, write_report

    if "cuda" in (args.a, args.b) and not torch.cuda.is_available():
        print("cross_device: a cuda device was asked for but torch sees no GPU", file=sys.stderr)
        return 2
    models = {s: load_model(device="cuda" if s == "cuda" else "cpu") for s in (args.a, args.b)}
    for m in models.values():    # float32 pixels on both sides: the check is about the arithmetic of the
        m.bf16 = False           # symbols, not the CPU's bfloat16 pixel networks (Codec.pixel_precision)
    # the torch version and the GPU's name are in the record's machine block
    res = {"devices": {"a": args.a, "b": args.b},
           "arith": {"a": _class_of(args.a), "b": _class_of(args.b)},
           "tf32": {"cudnn": torch.backends.cudnn.allow_tf32, "matmul": torch.backends.cuda.matmul.allow_tf32},
           "qualities": qualities, "crop": args.crop}
    imgs, source = load_images(args.images, args.count, args.crop)
    res["images"] = source

    def enc(spec, x, q):
        with _arith_of(spec):
            return C.encode_image(x, quality=q, model=models[spec])

    def dec(spec, data):
        with _arith_of(spec):
            return np.asarray(C.decode_image(data, model=models[spec]))

    def cross(data, own, spec):
        try:
            y = dec(spec, data)
        except Exception as exc:  # a decode that fails is the measurement
            return "fail", f"{type(exc).__name__}: {exc}"[:200]
        d = int(np.abs(y.astype(np.int16) - own.astype(np.int16)).max())
        return ("different" if d > 2 else "ok"), f"max |diff| {d}"

    rows = []
    t0 = time.perf_counter()
    for name, x in imgs:
        for q in qualities:
            ba, bb = enc(args.a, x, q), enc(args.b, x, q)
            own_a, own_b = dec(args.a, ba), dec(args.b, bb)
            ab, ab_note = cross(ba, own_a, args.b)
            ba_, ba_note = cross(bb, own_b, args.a)
            rows.append({"image": name, "quality": q, "bytes_a": len(ba), "bytes_b": len(bb),
                         "identical_bytes": ba == bb, "a_on_b": ab, "a_on_b_note": ab_note,
                         "b_on_a": ba_, "b_on_a_note": ba_note})
            print(f"{name} q{q:2d}: {len(ba)} / {len(bb)} bytes, identical {ba == bb}, A->B {ab} ({ab_note}), "
                  f"B->A {ba_} ({ba_note})", flush=True)
    count = lambda key, v: sum(r[key] == v for r in rows)  # noqa: E731
    res.update(files=len(rows), identical_bytes=sum(r["identical_bytes"] for r in rows),
               a_encoded_b_decode_fail=count("a_on_b", "fail"),
               a_encoded_b_decode_visibly_different=count("a_on_b", "different"),
               b_encoded_a_decode_fail=count("b_on_a", "fail"),
               b_encoded_a_decode_visibly_different=count("b_on_a", "different"),
               check_seconds=round(time.perf_counter() - t0, 1), rows=rows)
    if speed:
        from PIL import Image

        W, H = speed
        x = np.asarray(Image.fromarray(imgs[0][1]).resize((W, H), Image.BICUBIC))
        sync = torch.cuda.synchronize if args.a == "cuda" else (lambda: None)
        for _ in range(2):
            data = enc(args.a, x, 8)
            dec(args.a, data)
        sync()
        t = time.perf_counter()
        for _ in range(args.speed_repeats):
            data = enc(args.a, x, 8)
        sync()
        te = (time.perf_counter() - t) / args.speed_repeats
        t = time.perf_counter()
        for _ in range(args.speed_repeats):
            dec(args.a, data)
        sync()
        td = (time.perf_counter() - t) / args.speed_repeats
        res["speed"] = {"device": args.a, "size": f"{W}x{H}", "quality": 8, "repeats": args.speed_repeats,
                        "encode_ms": round(te * 1e3, 1), "decode_ms": round(td * 1e3, 1), "bytes": len(data)}
    summary = {k: v for k, v in res.items() if k != "rows"}
    print(json.dumps(summary), flush=True)
    if res["arith"]["a"] != res["arith"]["b"] and (res["a_encoded_b_decode_fail"] or res["b_encoded_a_decode_fail"]):
        print(f"cross_device: {res['arith']['a']} and {res['arith']['b']} are different arithmetic classes; files "
              f"made with one need not decode with the other until the entropy model is integer", file=sys.stderr)
    if args.out:
        write_report(args.out, "tools/cross_device.py", argv, models[args.a],
                     machine=machine_record(gpu="cuda" in (args.a, args.b)), **res)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
