"""P-frame encode time: ``inter.encode_p`` against one intra reference, median milliseconds per frame.

    python tools/bench_p_encode.py                 # BasketballPass 416x240 and DAVIS dog 854x480

For each clip: frame 0 coded intra becomes the reference (``inter.intra_reference`` with its source), then
frames 1..N are P-coded against it and timed (one untimed warm-up first). Importance levels 6 with a
level-12 box, q 8. Prints one JSON line {clip: median ms}; run it alternately with another checkout to
compare code versions on a noisy machine (``benchmarks/p-encode-speed-h21.json``).
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
CLIPS = (("bp-416x240", "video/basketballpass/BasketballPass"), ("dog-854x480", "video/davis2016/JPEGImages/dog"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--frames", type=int, default=8, help="P-frames timed per clip")
    p.add_argument("--model", default=None)
    args = p.parse_args(argv)

    from PIL import Image

    from rac_video.codec import inter, load_model

    c = load_model(args.model)
    res = {}
    for name, rel in CLIPS:
        files = sorted(glob.glob(str(args.data / rel / "*")))[:args.frames + 1]
        if len(files) < 2:
            continue
        fs = [np.asarray(Image.open(f).convert("RGB")) for f in files]
        H, W = fs[0].shape[:2]
        lev = np.full(c.latent_hw(H, W), 6, np.uint8)
        lev[5:15, 10:25] = 12
        p0 = c.encode_frame(fs[0], lev, 8)
        k0 = c.decode_levels(p0, lev, 8, height=H, width=W).k
        ref = inter.intra_reference(c, p0, k0, lev, 8, height=H, width=W, source=fs[0])
        inter.encode_p(c, fs[1], lev, 8, ref)
        ts = []
        for f in fs[1:]:
            t = time.perf_counter()
            inter.encode_p(c, f, lev, 8, ref)
            ts.append(time.perf_counter() - t)
        res[name] = 1e3 * float(np.median(ts))
    if not res:
        print(f"no clips under {args.data}")
        return 2
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
