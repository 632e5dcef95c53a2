"""Weights format 2 (float16 storage) against the float32 original of an installed model.

    python tools/eval_half_weights.py --model rac-tiny-v5 --images ../shared/data/eval/kodak/PhotoCD_PCD0992 \\
        --limit 6 --qualities 4,8,12

Writes the model's weights in format 2 to a temporary folder (a self-contained copy: a model built on a
base gets the base's modules too), codes each image with the centre map at each quality with both, and
prints one JSON line: the two files' bytes, the mean and largest relative change of the image bitstream's
size, the PSNR change (mean, min, max) and the largest pixel difference between the two decodes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="rac-tiny-v5")
    p.add_argument("--images", type=Path, required=True)
    p.add_argument("--limit", type=int, default=6)
    p.add_argument("--qualities", default="4,8,12")
    args = p.parse_args(argv)
    files = sorted(args.images.glob("*.png"))[: args.limit]
    if not files:
        print(f"error: no PNG images under {args.images}", file=sys.stderr)
        return 2
    from PIL import Image

    from rac_video.codec import weights

    state, record = weights.load_state(args.model)
    tmp = Path(tempfile.mkdtemp())
    half = f"{args.model}-half"
    rec = {k: v for k, v in record.items() if k not in ("base", "name", "sha256", "bytes")}
    half_bytes = weights.save_model(weights.half_state(state), tmp, half, **rec,
                                    weights_format=weights.HALF_FORMAT)["bytes"]
    os.environ[weights.WEIGHTS_ENV] = str(tmp)
    from rac_video.codec import Codec, decode_image, encode_image
    from rac_video.eval.images import centre_gaussian, image_metrics

    full, small = Codec(args.model), Codec(half)
    rows = []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        m = centre_gaussian(*img.shape[:2])
        for q in (int(v) for v in args.qualities.split(",")):
            da, db = encode_image(img, m, q, model=full), encode_image(img, m, q, model=small)
            ra, rb = decode_image(da, model=full), decode_image(db, model=small)
            rows.append((len(db) / len(da) - 1, image_metrics(img, rb)["psnr"] - image_metrics(img, ra)["psnr"],
                         int(np.abs(ra.astype(int) - rb).max())))
    r = np.array(rows, dtype=np.float64)
    print(json.dumps({"model": args.model, "float32_file_bytes": record.get("bytes"), "float16_self_contained_bytes": half_bytes,
                      "cases": len(rows), "size_change_mean": round(float(r[:, 0].mean()), 6),
                      "size_change_max_abs": round(float(np.abs(r[:, 0]).max()), 6),
                      "psnr_change_mean_db": round(float(r[:, 1].mean()), 5), "psnr_change_min_db": round(float(r[:, 1].min()), 5),
                      "psnr_change_max_db": round(float(r[:, 1].max()), 5), "max_pixel_diff": int(r[:, 2].max())}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
