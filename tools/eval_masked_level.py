"""The masked level below 0.05 bpp: bits, ROI and background quality with and without masking.

    python tools/eval_masked_level.py --images ../shared/data/eval/kodak/PhotoCD_PCD0992 --limit 6 \\
        --maps centre:1,blobs:4,gaze:8 --qualities 0,2,4,6 --png /tmp/masked

For every image, map and quality it codes the image plainly and with the masked level (the elements
of the M lowest levels send nothing, M after the map's name; rac_video.codec.model) and prints one
JSON line per (map, q, mode):
bpp of the whole image bitstream (side information included), PSNR / MS-SSIM inside the region
(importance ≥ 0.5) and outside it, and the fraction of masked latent elements; then the mean per
(map, q, mode). ``gaze`` is a foveation map around a fixation at (0.4 W, 0.45 H) on the GazeCom
display (its periphery stays above importance 0.3, level 5: M = 8 masks importance < 0.5). ``--png DIR`` writes the
decoded images of the first image side by side (plain | masked) for looking at them.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np


def gaze_map(h: int, w: int) -> np.ndarray:
    from rac_video.importance import foveation

    return foveation.importance_map([(0.4 * w, 0.45 * h)], (h, w), foveation.GAZECOM_DISPLAY)


def importance(kind: str, h: int, w: int, seed: int) -> np.ndarray:
    from rac_video.eval import images as E

    if kind == "centre":
        return E.centre_gaussian(h, w)
    if kind == "blobs":
        return E.blobs(h, w, seed)
    if kind == "gaze":
        return gaze_map(h, w)
    raise SystemExit(f"unknown map {kind!r} (centre, blobs, gaze)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--limit", type=int, default=6)
    p.add_argument("--model", default=None)
    p.add_argument("--maps", default="centre:1,blobs:4,gaze:8", help="map:M, M the masked levels")
    p.add_argument("--qualities", default="0,2,4,6")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps K (default: the model's)")
    p.add_argument("--png", type=Path, default=None)
    args = p.parse_args(argv)
    from PIL import Image

    from rac_video.codec import decode_image, encode_image, load_model
    from rac_video.eval.images import image_metrics
    from rac_video.importance import sideinfo

    files = sorted(f for f in args.images.glob("*.png"))[: args.limit]
    if not files:
        print(f"error: no PNG images under {args.images}", file=sys.stderr)
        return 2
    codec = load_model(args.model)
    qs = [int(q) for q in args.qualities.split(",")]
    try:
        maps = [(k, codec.masked_levels(int(M))) for k, M in (s.split(":") for s in args.maps.split(","))]
    except ValueError as exc:
        print(f"error: --maps wants map:M pairs, M a number of levels ({exc})", file=sys.stderr)
        return 2
    rows = []
    for n, f in enumerate(files):
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        for kind, M in maps:
            m = importance(kind, H, W, n)
            lv = sideinfo.levels_from_importance(m, codec.latent_hw(H, W), codec.levels)
            for q in qs:
                pair = []
                for masked in (0, M):
                    data = encode_image(img, m, q, model=codec, steps=args.steps, masked=masked)
                    rec = decode_image(data, model=codec)
                    row = {"image": f.name, "map": kind, "q": q, "masked": masked, "bpp": 8 * len(data) / (H * W),
                           "masked_fraction": float((lv < M).mean()), **image_metrics(img, rec, m)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                    pair.append(rec)
                if args.png and n == 0:
                    args.png.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(np.concatenate(pair, axis=1)).save(args.png / f"{f.stem}_{kind}_q{q}.png")
    keys = ("bpp", "psnr", "psnr_roi", "psnr_bg", "ms_ssim_roi", "ms_ssim_bg", "masked_fraction")
    for kind, M in maps:
        for q in qs:
            for masked in (0, M):
                sel = [r for r in rows if r["map"] == kind and r["q"] == q and r["masked"] == masked]
                print(json.dumps({"mean": True, "map": kind, "q": q, "masked": masked, "n": len(sel),
                                  **{k: round(float(np.mean([r[k] for r in sel])), 4) for k in keys}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
