"""Sweep the encoder's free settings on Kodak: the RDOQ strength α and the decoder's DDIM steps K.

    python tools/tune_encoder.py --rdoq 0,2,4,6,8 --steps 1,2 --limit 6 --out benchmarks/encoder-settings.json

Neither setting changes the bitstream format: α decides which integer levels the encoder writes
(rac_video.codec.rdoq), K is a header byte the decoder follows. Every (α, K) pair is measured on
real files (all bytes of ``encode_image``) with uniform importance at each quality, and compared
with the first pair by BD-rate on PSNR and MS-SSIM over the images' mean curves.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    from rac_video.eval.run import data_root

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rdoq", default="0,2,4,6,8", help="RDOQ α values (the first is the reference)")
    p.add_argument("--steps", default="2,1", help="DDIM steps K (the first is the reference)")
    p.add_argument("--model", default=None, help="model name (default: the default model)")
    p.add_argument("--data", type=Path, default=Path(data_root()) / "eval" / "kodak")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--qualities", default="0,3,6,9,12,15")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    try:
        alphas = [float(a) for a in args.rdoq.split(",")]
        steps = [int(k) for k in args.steps.split(",")]
        qs = [int(q) for q in args.qualities.split(",")]
    except ValueError as exc:
        p.error(f"--rdoq, --steps and --qualities are comma-separated numbers: {exc}")

    from PIL import Image

    from rac_video.codec import decode_image, encode_image, load_model
    from rac_video.eval import bdrate
    from rac_video.eval.metrics import ms_ssim, psnr

    codec = load_model(args.model)
    files = sorted(args.data.rglob("*.png"))[: args.limit]
    if not files:
        print(f"no PNG images under {args.data}", file=sys.stderr)
        return 2
    rows = []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        for a in alphas:
            for q in qs:
                data = encode_image(img, quality=q, model=codec, rdoq=a)
                bpp = 8 * len(data) / (img.shape[0] * img.shape[1])
                for K in steps:
                    rec = decode_image(data, model=codec, steps=K)
                    rows.append({"image": f.name, "rdoq": a, "steps": K, "quality": q, "bpp": bpp,
                                 "psnr": float(np.mean(psnr(img, rec))), "ms_ssim": float(np.mean(ms_ssim(img, rec)))})
        print(f"{f.name} done", flush=True)

    def curve(a, K):
        sel = [[r for r in rows if r["rdoq"] == a and r["steps"] == K and r["quality"] == q] for q in qs]
        return {m: [float(np.mean([r[m] for r in s])) for s in sel] for m in ("bpp", "psnr", "ms_ssim")}

    ref = curve(alphas[0], steps[0])
    settings = []
    for K in steps:
        for a in alphas:
            c = curve(a, K)
            bd = {m: bdrate.bd_rate(ref["bpp"], ref[m], c["bpp"], c[m]) for m in ("psnr", "ms_ssim")}
            settings.append({"rdoq": a, "steps": K, "curve": c, "bd_rate_pct_vs_first": bd})
            print(f"alpha {a:5.2f}  K {K}:  BD-rate vs alpha {alphas[0]:g}, K {steps[0]}: "
                  f"PSNR {bd['psnr']:+6.2f} %  MS-SSIM {bd['ms_ssim']:+6.2f} %   bpp "
                  + " ".join(f"{b:.3f}" for b in c["bpp"]))
    if args.out:
        from rac_video.eval.report import write_report

        write_report(args.out, "tools/tune_encoder.py", argv, codec, qualities=qs, images=[f.name for f in files],
                     settings=settings, rows=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
