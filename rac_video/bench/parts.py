"""Parts of the codec timed alone (median milliseconds per frame): one JSON line, to run alternately with
another build or checkout when comparing code versions on a noisy machine.

    rac-video bench parts                                  # both parts, both clips
    rac-video bench parts --part entropy-decode --repeat 15

Parts:

* ``entropy-decode``: ``Codec.decode_levels`` of one intra frame (ẑ, the integer hyperprior and context
  networks, rANS); ``--repeat`` runs after three warm-ups.
* ``p-encode``: ``inter.encode_p`` of frames 1..``--frames`` against frame 0 coded intra (its
  ``inter.intra_reference`` with the source); one untimed warm-up.

Clips (from ``../shared/data`` or $RAC_VIDEO_DATA): BasketballPass 416x240 and, at 854x480, DAVIS blackswan
(entropy-decode) and dog (p-encode). Importance levels 6 (p-encode: with a level-12 box), q 8.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data"))
CLIPS = {"entropy-decode": (("416x240", "video/basketballpass/BasketballPass"),
                            ("854x480", "video/davis2016/JPEGImages/blackswan")),
         "p-encode": (("bp-416x240", "video/basketballpass/BasketballPass"),
                      ("dog-854x480", "video/davis2016/JPEGImages/dog"))}


def _median_ms(fn, runs: int) -> float:
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1e3 * float(np.median(ts))


def entropy_decode(c, frames, repeat: int) -> float:
    """Median ms of ``decode_levels`` of the first frame coded intra."""
    f = frames[0]
    H, W = f.shape[:2]
    lev = np.full(c.latent_hw(H, W), 6, np.uint8)
    payload = c.encode_frame(f, lev, 8)
    for _ in range(3):
        c.decode_levels(payload, lev, 8, height=H, width=W)
    return _median_ms(lambda: c.decode_levels(payload, lev, 8, height=H, width=W), repeat)


def p_encode(c, frames, repeat: int) -> float:
    """Median ms of ``encode_p`` of frames 1.. against frame 0 (``repeat`` unused: each frame once)."""
    from ..codec import inter

    H, W = frames[0].shape[:2]
    lev = np.full(c.latent_hw(H, W), 6, np.uint8)
    lev[5:15, 10:25] = 12
    p0 = c.encode_frame(frames[0], lev, 8)
    k0 = c.decode_levels(p0, lev, 8, height=H, width=W).k
    ref = inter.intra_reference(c, p0, k0, lev, 8, height=H, width=W, source=frames[0])
    inter.encode_p(c, frames[1], lev, 8, ref)
    it = iter(frames[1:])
    return _median_ms(lambda: inter.encode_p(c, next(it), lev, 8, ref), len(frames) - 1)


PARTS = {"entropy-decode": entropy_decode, "p-encode": p_encode}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="rac-video bench parts", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--part", action="append", choices=sorted(PARTS), help="(repeatable; default: all)")
    p.add_argument("--frames", type=int, default=8, help="p-encode: P-frames timed per clip")
    p.add_argument("--repeat", type=int, default=15, help="entropy-decode: timed runs")
    p.add_argument("--model", default=None)
    args = p.parse_args(argv)
    if args.frames < 1 or args.repeat < 1:
        p.error("--frames and --repeat must be at least 1")

    from PIL import Image

    from ..codec import load_model

    c = load_model(args.model)
    out = {}
    for part in args.part or sorted(PARTS):
        need = args.frames + 1 if part == "p-encode" else 1
        res = {}
        for name, rel in CLIPS[part]:
            files = sorted(glob.glob(str(args.data / rel / "*")))[:need]
            if len(files) < need:
                continue
            frames = [np.asarray(Image.open(f).convert("RGB")) for f in files]
            res[name] = round(PARTS[part](c, frames, args.repeat), 2)
        if res:
            out[part] = res
    if not out:
        print(f"rac-video bench parts: no clips under {args.data}")
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
