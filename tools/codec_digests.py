"""sha256 digests of what every installed model writes and decodes, to compare two checkouts byte for byte.

    python tools/codec_digests.py --image ../shared/data/eval/kodak/PhotoCD_PCD0992/05.png > a.json
    (in the other checkout: PYTHONPATH=<checkout> python tools/codec_digests.py ... > b.json); diff a.json b.json

For each installed model and quality (default 3 and 11): a 96x128 crop of the image with random levels
(seed 7) and dither seed 5 is encoded with the model's defaults; the payload, the fidelity decode and a
realism decode (ρ = 0.7) are hashed. Identical output means the two checkouts write the same bytes and
decode them to the same pixels on this machine.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image", type=Path, required=True)
    p.add_argument("--qualities", default="3,11")
    args = p.parse_args(argv)
    if not args.image.is_file():
        print(f"error: no image at {args.image}", file=sys.stderr)
        return 2
    from PIL import Image

    from rac_video.codec import Codec, weights

    img = np.ascontiguousarray(np.asarray(Image.open(args.image).convert("RGB"))[100:196, 200:328])
    H, W = img.shape[:2]
    out = {}
    for name in weights.available():
        c = Codec(name)
        lv = np.random.default_rng(7).integers(0, c.levels, c.latent_hw(H, W)).astype(np.uint8)
        for q in (int(v) for v in args.qualities.split(",")):
            payload = c.encode_frame(img, lv, q, seed=5)
            fid = c.decode_frame(payload, lv, q, seed=5, height=H, width=W)
            real = c.decode_frame(payload, lv, q, seed=5, height=H, width=W, realism=0.7)
            out[f"{name}/q{q}"] = {"payload": hashlib.sha256(payload).hexdigest(), "bytes": len(payload),
                                   "fidelity": hashlib.sha256(fid.tobytes()).hexdigest(),
                                   "realism": hashlib.sha256(real.tobytes()).hexdigest()}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
