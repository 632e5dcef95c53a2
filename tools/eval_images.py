"""Image rate–quality of the shipped model on Kodak (uniform importance and a centre ROI), vs JPEG.

    python tools/eval_images.py                      # all 24 images, writes benchmarks/kodak.json
    python tools/eval_images.py --limit 4 --qualities 0,8,15 --out /tmp/k.json

For every image and quality q: bytes of the complete image bitstream (header, side info and
payload counted), PSNR and MS-SSIM of the decoded image; encode/decode seconds. With ``--roi``
(default on) also a centre-ellipse importance map (about 30 % of the area important, the rest
level 0) to show where the bits go: PSNR inside and outside the ellipse vs the uniform map at
the same q. JPEG (Pillow 4:2:0, optimized) at several qualities gives the reference curve; BD-rate
(PSNR and MS-SSIM) of ours vs JPEG is computed with rac_video.eval.bdrate.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data")) / "eval" / "kodak"


def centre_roi(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((((yy - h / 2) / (0.32 * h)) ** 2 + ((xx - w / 2) / (0.30 * w)) ** 2) <= 1).astype(np.float32)


def jpeg_point(img, q):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(q), subsampling=2, optimize=True)
    rec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return buf.tell(), rec


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--qualities", default="0,3,6,9,12,15")
    p.add_argument("--jpeg", default="5,10,20,35,50,75")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model's)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--no-roi", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "kodak.json")
    args = p.parse_args(argv)

    import torch
    from PIL import Image
    from tqdm import tqdm

    from rac_video.codec import decode_image, encode_image, load_model
    from rac_video.codec.model import DEFAULT_STEPS
    from rac_video.eval import bdrate
    from rac_video.eval import metrics as M

    if args.threads:
        torch.set_num_threads(args.threads)
    files = sorted(p for p in args.data.rglob("*.png"))[: args.limit]
    if not files:
        print(f"no PNG images under {args.data}", file=sys.stderr)
        return 2
    codec = load_model()
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    qs = [int(q) for q in args.qualities.split(",")]
    jq = [int(q) for q in args.jpeg.split(",")]
    rows = []
    for f in tqdm(files, desc="images"):
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        roi = centre_roi(H, W)
        inside, outside = roi > 0.5, roi <= 0.5
        for mode in ("uniform",) + (() if args.no_roi else ("roi",)):
            for q in qs:
                t0 = time.perf_counter()
                data = encode_image(img, None if mode == "uniform" else roi, quality=q, model=codec, steps=steps)
                t1 = time.perf_counter()
                rec = decode_image(data, model=codec)
                t2 = time.perf_counter()
                rows.append({"image": f.name, "codec": f"ours-{mode}", "param": q, "bytes": len(data),
                             "bpp": 8 * len(data) / (H * W), "psnr": float(M.psnr(img, rec)[0]),
                             "ms_ssim": float(M.ms_ssim(img, rec)[0]),
                             "psnr_roi": float(M.psnr(img, rec, inside)[0]),
                             "psnr_bg": float(M.psnr(img, rec, outside)[0]),
                             "encode_s": t1 - t0, "decode_s": t2 - t1})
        for q in jq:
            n, rec = jpeg_point(img, q)
            rows.append({"image": f.name, "codec": "jpeg", "param": q, "bytes": n, "bpp": 8 * n / (H * W),
                         "psnr": float(M.psnr(img, rec)[0]), "ms_ssim": float(M.ms_ssim(img, rec)[0]),
                         "psnr_roi": float(M.psnr(img, rec, inside)[0]), "psnr_bg": float(M.psnr(img, rec, outside)[0])})

    curves = {}
    for c in sorted({r["codec"] for r in rows}):
        pts = []
        for prm in sorted({r["param"] for r in rows if r["codec"] == c}):
            sel = [r for r in rows if r["codec"] == c and r["param"] == prm]
            pts.append({"param": prm, **{k: float(np.mean([r[k] for r in sel]))
                                         for k in ("bpp", "psnr", "ms_ssim", "psnr_roi", "psnr_bg")},
                        **({"encode_s": float(np.mean([r["encode_s"] for r in sel])),
                            "decode_s": float(np.mean([r["decode_s"] for r in sel]))} if c != "jpeg" else {})})
        curves[c] = pts

    def bd(c, key):
        a, b = curves[c], curves["jpeg"]
        try:
            return bdrate.bd_rate([p["bpp"] for p in b], [p[key] for p in b], [p["bpp"] for p in a],
                                  [p[key] for p in a])
        except bdrate.BDRateError as exc:  # curves that do not overlap in quality
            return f"n/a: {exc}"

    summary = {c: {"bd_rate_vs_jpeg_psnr_pct": bd(c, "psnr"), "bd_rate_vs_jpeg_ms_ssim_pct": bd(c, "ms_ssim")}
               for c in curves if c != "jpeg"}
    out = {"command": "python tools/eval_images.py " + " ".join(argv if argv is not None else sys.argv[1:]),
           "model": codec.name, "weights_sha256": codec.weights_hash, "steps": steps, "images": len(files),
           "data": str(args.data), "machine": {"host": platform.node(), "cpu": platform.processor() or platform.machine(),
                                               "cores": os.cpu_count(), "torch": torch.__version__,
                                               "threads": torch.get_num_threads()},
           "curves": curves, "summary": summary, "per_image": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    for c, pts in curves.items():
        print(c)
        for p_ in pts:
            print(f"  {p_['param']:>3}: {p_['bpp']:.3f} bpp  PSNR {p_['psnr']:.2f}  MS-SSIM {p_['ms_ssim']:.4f}  "
                  f"ROI {p_['psnr_roi']:.2f} / bg {p_['psnr_bg']:.2f}")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
