"""Do files decode the same everywhere? Encode a set with a model, then ``rac_video.check`` it.

    python tools/determinism.py --model rac-tiny-v6           # → benchmarks/determinism-rac-tiny-v6.json

The set: Kodak 13–24 × qualities 0/5/10/15 × uniform and centre maps (96 image bitstreams) and two
video clips through the real pipeline — BasketballPass (30 frames, saliency map, q 6) and DAVIS
bmx-trees (30 frames, its object masks as ROI, q 10) — decoded plainly and under every variant of
``rac-video check`` (oneDNN off / AVX2 / AVX, one thread, ops on torch / C++, CUDA where present).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=None)
    p.add_argument("--images", type=int, nargs=2, default=(13, 24))
    p.add_argument("--qualities", default="0,5,10,15")
    p.add_argument("--video-frames", type=int, default=30)
    p.add_argument("--variants", default=None, help="subset of the check's variants (default: all)")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)

    from PIL import Image

    from rac_video.check import check_files
    from rac_video.codec import load_model
    from rac_video.codec.image import encode_image
    from rac_video.eval.images import centre_gaussian
    from rac_video.pipeline import EncodeOptions, encode_video

    codec = load_model(args.model)
    out = args.out or ROOT / "benchmarks" / f"determinism-{codec.name}.json"
    tmp = Path(tempfile.mkdtemp(prefix="rac-determinism-"))
    files, t0 = [], time.time()
    kodak = {int(f.stem): f for f in (DATA / "eval" / "kodak").rglob("*.png")}
    for n in range(args.images[0], args.images[1] + 1):
        img = np.asarray(Image.open(kodak[n]).convert("RGB"))
        centre = centre_gaussian(*img.shape[:2])
        for q in map(int, args.qualities.split(",")):
            for name, imp in (("uniform", None), ("centre", centre)):
                f = tmp / f"kodak{n:02d}-q{q}-{name}.raci"
                f.write_bytes(encode_image(img, imp, q, model=codec))
                files.append(f)
    clips = [("basketballpass", DATA / "video" / "basketballpass" / "BasketballPass", "saliency", 6),
             ("bmx-trees", DATA / "video" / "davis2016" / "JPEGImages" / "bmx-trees",
              f"masks:{DATA / 'video' / 'davis2016' / 'Annotations' / 'bmx-trees'}", 10)]
    for name, src, imp, q in clips:
        f = tmp / f"{name}.racv"
        encode_video(str(src), f, EncodeOptions(quality=q, importance=imp, model=codec.name,
                                                max_frames=args.video_frames, fps=25), progress=False, codec=codec)
        files.append(f)
    enc_s = time.time() - t0
    rep = check_files(files, variants=args.variants.split(",") if args.variants else None)
    rep["files"] = [Path(f).name for f in rep["files"]]
    for v in rep["variants"].values():
        for k in ("failed", "symbols_differ", "pixels_differ"):
            if k in v:
                v[k] = [Path(x).name for x in v[k]]
    from rac_video.eval.report import write_report

    rep = write_report(out, "tools/determinism.py", argv, codec, device_independent=codec.device_independent,
                       encode_seconds=round(enc_s), check_seconds=round(time.time() - t0 - enc_s), **rep)
    print(f"{codec.name}: {rep['frames']} frames, {rep['decodes']} decodes, {rep['failed_decodes']} failed, "
          f"{rep['symbol_differences']} with other symbols, {rep['pixel_differences']} with other pixels → {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
