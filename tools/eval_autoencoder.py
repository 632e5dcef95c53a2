"""The autoencoder's ceiling: g_s(g_a(x)) on clean (unquantized) latents, per model.

    python tools/eval_autoencoder.py                          # every shipped model, all Kodak images
    python tools/eval_autoencoder.py --source runs/v6 --limit 6   # a training run's stage0.pt too

No codec rate can buy more than this: at the top qualities the decoded image converges to it. The
numbers (PSNR, MS-SSIM on Kodak, uint8 output as the codec writes it) go to
``benchmarks/autoencoder-ceiling.json``. A source is a shipped model name or a run folder whose
``stage0.pt`` holds g_a / g_s (mid-training checkpoints included).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data"))


def load_transforms(source: str):
    """(g_a, g_s, description) from a shipped model name or a run folder's stage0.pt."""
    import torch

    from rac_video.codec import load_model
    from rac_video.codec.train import frozen_autoencoder

    path = Path(source)
    if (path / "stage0.pt").exists():
        g_a, g_s = frozen_autoencoder(path)
        ck = torch.load(path / "stage0.pt", map_location="cpu", weights_only=False)
        return g_a, g_s, {"run": str(path), "step": ck["step"], "seconds": round(ck["extra"].get("seconds", 0.0))}
    codec = load_model(source)
    return codec.g_a, codec.g_s, {"model": source, "sha256": codec.weights_hash}


def round_trip(g_a, g_s, img: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) → g_s(g_a(x)) as uint8, with the codec's own padding and rounding."""
    import torch

    from rac_video.codec.model import frame_tensor, uint8_frame

    with torch.no_grad():
        return uint8_frame(g_s(g_a(frame_tensor(img))), *img.shape[:2])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", action="append", default=None,
                   help="shipped model name or run folder (repeatable; default: every shipped model)")
    p.add_argument("--data", type=Path, default=DATA / "eval" / "kodak")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "autoencoder-ceiling.json")
    args = p.parse_args(argv)

    from PIL import Image

    from rac_video.codec.weights import available
    from rac_video.eval.report import write_report
    from rac_video.eval.metrics import ms_ssim, psnr

    files = sorted(args.data.rglob("*.png"))[: args.limit]
    if not files:
        raise SystemExit(f"no PNG images in {args.data} (set RAC_VIDEO_DATA or --data)")
    images = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    rows = []
    for source in args.source or available():
        g_a, g_s, desc = load_transforms(source)
        t0 = time.perf_counter()
        recs = [round_trip(g_a, g_s, im) for im in images]
        seconds = (time.perf_counter() - t0) / len(images)
        row = dict(desc, psnr=float(np.mean([psnr(a[None], b[None]).mean() for a, b in zip(images, recs)])),
                   ms_ssim=float(np.mean([ms_ssim(a[None], b[None]).mean() for a, b in zip(images, recs)])),
                   seconds_per_image=seconds)
        rows.append(row)
        print(json.dumps(row))
    # several models (or run checkpoints): each row names its own, the record's model is null
    write_report(args.out, "tools/eval_autoencoder.py", argv, None, images=[f.name for f in files], rows=rows)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
