"""Encode-time latent refinement (rac_video.codec.refine) on Kodak: bits, quality and seconds.

    python tools/eval_refine.py --images 1-12 --settings 0,50:0.001:0,50:0.001:1000 --out runs/refine-tune.json
    python tools/eval_refine.py --images 13-24 --settings 0,50 --qualities 2,5,8,11,14 --x264
        --out benchmarks/refine-kodak13-24.json

Every setting N:β:κ (N refinement steps, β the distortion weight, κ the MS-SSIM term's; ``0``: off) codes each image at each
quality with the importance map ``--map`` (real files, every byte of ``encode_image``), decodes it with
the unchanged decoder and measures PSNR and MS-SSIM. BD-rates are computed **per image** (pchip) and then
averaged over the images, MS-SSIM on its dB scale −10·log10(1 − MS-SSIM): each setting against the first,
and, with ``--x264``, each setting against x264 intra (a CRF sweep of the same images; positive: we need
more bits than x264 for the same quality). Pick settings on one part of Kodak, report on the other.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def parse_images(spec: str) -> list[int]:
    """'1-12' or '1,3,5' → 1-based Kodak numbers."""
    from rac_video.eval.images import number_list

    out = number_list(spec)
    if not out or min(out) < 1:
        raise ValueError(f"--images wants 1-based numbers like 1-12 or 1,3,5, got {spec!r}")
    return out


def parse_settings(spec: str) -> list[tuple[int, float | None, float | None]]:
    """'0,100:0.002:1000' → [(0, None, None), (100, 0.002, 1000.0)] (N, β, κ; β and κ default to the codec's)."""
    from rac_video.codec.refine import REFINE_BETA, REFINE_KAPPA, check_beta, check_kappa, check_refine

    out = []
    for part in spec.split(","):
        n, b, k = (part.split(":") + ["", ""])[:3]
        n = check_refine(int(n))
        out.append((n, None, None) if n == 0 else
                   (n, check_beta(float(b) if b else REFINE_BETA), check_kappa(float(k) if k else REFINE_KAPPA)))
    return out


def per_image_bd(rows, ref_key, key, metric):
    """Mean over images of the BD-rate (percent) of setting ``key`` against ``ref_key`` on ``metric``; the
    per-image list too. MS-SSIM on its dB scale."""
    from rac_video.eval.bdrate import BDRateError, bd_rate
    from rac_video.eval.results import ssim_db

    f = ssim_db if metric == "ms_ssim" else float
    per = {}
    for img in sorted({r["image"] for r in rows}):
        a = sorted((r for r in rows if r["image"] == img and r["setting"] == ref_key), key=lambda r: r["bpp"])
        b = sorted((r for r in rows if r["image"] == img and r["setting"] == key), key=lambda r: r["bpp"])
        try:
            per[img] = bd_rate([r["bpp"] for r in a], [f(r[metric]) for r in a],
                               [r["bpp"] for r in b], [f(r[metric]) for r in b])
        except BDRateError as exc:
            per[img] = f"n/a ({exc})"
    vals = [v for v in per.values() if isinstance(v, float)]
    return (float(np.mean(vals)) if vals else None), per


def main(argv=None) -> int:
    from rac_video.eval.config import data_root

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", default="13-24", help="Kodak image numbers (1-based): 1-12, 13-24, 1,5,9")
    p.add_argument("--settings", default="0,100", help="N:β:κ refinement settings (the first is the reference)")
    p.add_argument("--qualities", default="2,5,8,11,14")
    p.add_argument("--map", choices=("uniform", "centre"), default="uniform")
    p.add_argument("--x264", action="store_true", help="also x264 intra (CRF sweep) and BD-rates against it")
    p.add_argument("--crfs", default="22,26,30,34,38,42,46,51")
    p.add_argument("--model", default=None)
    p.add_argument("--data", type=Path, default=Path(data_root()) / "eval" / "kodak")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        numbers, settings = parse_images(args.images), parse_settings(args.settings)
        qs = [int(q) for q in args.qualities.split(",")]
    except ValueError as exc:
        p.error(str(exc))
    files = sorted(args.data.rglob("*.png"))
    if not files:
        print(f"no PNG images under {args.data}", file=sys.stderr)
        return 2
    files = [files[i - 1] for i in numbers if i <= len(files)]

    from PIL import Image

    from rac_video.codec import Codec, decode_image, encode_image, load_model
    from rac_video.eval.images import centre_gaussian, image_metrics

    codec = load_model(args.model)
    encoders = {(b, k): Codec(codec.name, refine_beta=b, refine_kappa=k) for n, b, k in settings if n}
    key = [f"{n}:{b:g}:{k:g}" if n else "0" for n, b, k in settings]
    rows = []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        imp = centre_gaussian(H, W) if args.map == "centre" else None
        for (n, beta, kappa), k in zip(settings, key):
            for q in qs:
                t0 = time.perf_counter()
                data = encode_image(img, imp, quality=q, model=encoders[beta, kappa] if n else codec,
                                    refine=n)
                enc = time.perf_counter() - t0
                rec = decode_image(data, model=codec)
                rows.append({"image": f.name, "setting": k, "quality": q, "bytes": len(data),
                             "bpp": 8 * len(data) / (H * W), "encode_s": enc, **image_metrics(img, rec, imp)})
                print(f"{f.name} {k:>12} q{q:2d}: {rows[-1]['bpp']:.4f} bpp  {rows[-1]['psnr']:.2f} dB  "
                      f"MS-SSIM {rows[-1]['ms_ssim']:.4f}  {enc:.1f} s", flush=True)
        if args.x264:
            from rac_video.eval.baselines import make_baseline

            x264 = make_baseline("x264-intra")
            for crf in [int(c) for c in args.crfs.split(",")]:
                e = x264.encode(img[None], None, crf)
                rows.append({"image": f.name, "setting": "x264-intra", "quality": crf, "bytes": e.nbytes,
                             "bpp": 8 * e.nbytes / (H * W), **image_metrics(img, e.decode()[0], imp)})

    summary = {}
    for k in key:
        s = {"mean_bpp": float(np.mean([r["bpp"] for r in rows if r["setting"] == k])),
             "mean_psnr": float(np.mean([r["psnr"] for r in rows if r["setting"] == k])),
             "encode_s_per_encode": float(np.mean([r["encode_s"] for r in rows if r["setting"] == k]))}
        for m in ("psnr", "ms_ssim"):
            if k != key[0]:
                s[f"bd_rate_pct_vs_{key[0]}_{m}"], s[f"per_image_vs_{key[0]}_{m}"] = per_image_bd(rows, key[0], k, m)
            if args.x264:
                s[f"bd_rate_pct_vs_x264_intra_{m}"], s[f"per_image_vs_x264_{m}"] = per_image_bd(rows, "x264-intra", k, m)
        summary[k] = s
        print(f"{k:>12}: " + "  ".join(f"{n} {v:+.2f} %" for n, v in s.items()
                                        if n.startswith("bd_rate") and isinstance(v, float))
              + f"  encode {s['encode_s_per_encode']:.1f} s", flush=True)
    if args.out:
        from rac_video.eval.report import write_report

        write_report(args.out, "tools/eval_refine.py", argv, codec, images=[f.name for f in files], qualities=qs,
                     map=args.map, settings=key,
                     convention="BD-rate per image (pchip), then averaged over images; MS-SSIM in dB, "
                                "-10*log10(1 - MS-SSIM); negative: fewer bits than the reference",
                     summary=summary, rows=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
