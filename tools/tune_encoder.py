"""Sweep the codec's free settings on Kodak: the RDOQ strength α, the DDIM steps K and the
decoder's posterior fusion constant c.

    python tools/tune_encoder.py --rdoq 0,4,8 --steps 2,1 --fusion 0,0.003,0.01 --limit 6 --out benchmarks/codec-settings.json

None of them changes the bitstream format: α decides which integer levels the encoder writes
(rac_video.codec.rdoq), K is a header byte the decoder follows, c is the model's decoder constant
(rac_video.codec.posterior; a shipped model fixes it in its record). Every (α, K, c) is measured on
real files (all bytes of ``encode_image``) with uniform importance at each quality, and compared
with the first by BD-rate on PSNR and MS-SSIM over the images' mean curves.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    from rac_video.eval.config import data_root

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rdoq", default="0,2,4,6,8", help="RDOQ α values (the first is the reference)")
    p.add_argument("--steps", default="2,1", help="DDIM steps K (the first is the reference)")
    p.add_argument("--fusion", default=None, help="posterior fusion constants c (0: off; default: the model's)")
    p.add_argument("--model", default=None, help="model name (default: the default model)")
    p.add_argument("--data", type=Path, default=Path(data_root()) / "eval" / "kodak")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--qualities", default="0,3,6,9,12,15")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    from rac_video.codec.posterior import check_fusion
    from rac_video.codec.rdoq import check_alpha

    try:
        alphas = [check_alpha(a) for a in args.rdoq.split(",")]
        steps = [int(k) for k in args.steps.split(",")]
        qs = [int(q) for q in args.qualities.split(",")]
        fusions = None if args.fusion is None else [check_fusion(c) for c in args.fusion.split(",")]
    except ValueError as exc:
        p.error(f"--rdoq, --steps, --fusion and --qualities are comma-separated numbers (α, c >= 0): {exc}")
    if not all(0 <= k <= 64 for k in steps):
        p.error("--steps must be in 0..64")

    from PIL import Image

    from rac_video.codec import Codec, decode_image, encode_image, load_model
    from rac_video.eval import bdrate
    from rac_video.eval.metrics import ms_ssim, psnr

    codec = load_model(args.model)
    fusions = fusions or [codec.fusion]
    decoders = {c: Codec(codec.name, fusion=c) for c in fusions}
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
                    for c, dec in decoders.items():
                        rec = decode_image(data, model=dec, steps=K)
                        rows.append({"image": f.name, "rdoq": a, "steps": K, "fusion": c, "quality": q, "bpp": bpp,
                                     "psnr": float(np.mean(psnr(img, rec))),
                                     "ms_ssim": float(np.mean(ms_ssim(img, rec)))})
        print(f"{f.name} done", flush=True)

    def curve(a, K, c):
        sel = [[r for r in rows if (r["rdoq"], r["steps"], r["fusion"], r["quality"]) == (a, K, c, q)] for q in qs]
        return {m: [float(np.mean([r[m] for r in s])) for s in sel] for m in ("bpp", "psnr", "ms_ssim")}

    ref = curve(alphas[0], steps[0], fusions[0])
    settings = []
    for c in fusions:
        for K in steps:
            for a in alphas:
                cur = curve(a, K, c)
                bd = {m: bdrate.bd_rate(ref["bpp"], ref[m], cur["bpp"], cur[m]) for m in ("psnr", "ms_ssim")}
                settings.append({"rdoq": a, "steps": K, "fusion": c, "curve": cur, "bd_rate_pct_vs_first": bd})
                print(f"alpha {a:5.2f}  K {K}  c {c:<6g}:  BD-rate vs the first: PSNR {bd['psnr']:+6.2f} %  "
                      f"MS-SSIM {bd['ms_ssim']:+6.2f} %   MS-SSIM " + " ".join(f"{v:.4f}" for v in cur["ms_ssim"]))
    if args.out:
        from rac_video.eval.report import write_report

        write_report(args.out, "tools/tune_encoder.py", argv, codec, qualities=qs, images=[f.name for f in files],
                     settings=settings, rows=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
