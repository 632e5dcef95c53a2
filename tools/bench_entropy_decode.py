"""Entropy decoding of one intra frame (``Codec.decode_levels``: ẑ, the integer hyperprior and context
networks, rANS), median milliseconds over ``--repeat`` runs, at 416x240 (BasketballPass) and 854x480
(DAVIS blackswan).

    python tools/bench_entropy_decode.py          # one JSON line; alternate builds to compare them
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data"))
CLIPS = (("416x240", "video/basketballpass/BasketballPass"), ("854x480", "video/davis2016/JPEGImages/blackswan"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--model", default=None)
    args = p.parse_args(argv)

    from PIL import Image

    from rac_video.codec import load_model

    c = load_model(args.model)
    out = {}
    for name, rel in CLIPS:
        files = sorted(glob.glob(str(args.data / rel / "*")))
        if not files:
            continue
        f = np.asarray(Image.open(files[0]).convert("RGB"))
        H, W = f.shape[:2]
        lev = np.full(c.latent_hw(H, W), 6, np.uint8)
        payload = c.encode_frame(f, lev, 8)
        for _ in range(3):
            c.decode_levels(payload, lev, 8, height=H, width=W)
        ts = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            c.decode_levels(payload, lev, 8, height=H, width=W)
            ts.append(time.perf_counter() - t)
        out[name] = round(1e3 * float(np.median(ts)), 2)
    if not out:
        print(f"no clips under {args.data}")
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
