"""Ablation: the hyperprior with vs without the γ / importance conditioning (bits at equal quality).

    python tools/ablation_conditioning.py --run runs/v3 --limit 6    # writes benchmarks/ablation-conditioning.json
    python tools/ablation_conditioning.py --run RUN --equal-budget   # RUN/stage2.pt vs RUN/stage3.pt

Both entropy models code the *same* symbols (same g_a, levels, Δ, dither), so the reconstruction
is identical and only the rate differs. The unconditioned hyperprior is ``RUN/stage3.pt``
(``rac-video train --stage 3``: same architecture and data, no [t(γ), level] inputs). By default
the conditioned side is the shipped model's hyperprior; ``--equal-budget`` takes ``RUN/stage2.pt``
instead, a conditioned hyperprior trained from scratch with the same steps as stage 3, so neither
side has more training. Rates are the
model's information content under the coder's tables (``Codec.estimate_bits``, within ≈ 0.2 % of the coded size).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data"))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="training run folder with stage2.pt and stage3.pt")
    p.add_argument("--data", type=Path, default=DATA / "eval" / "kodak")
    p.add_argument("--qualities", default="0,4,8,12,15")
    p.add_argument("--model", default=None,
                   help="shipped model (default: the default model); RUN's stage3.pt must come from its latents")
    p.add_argument("--limit", type=int, default=6)
    p.add_argument("--equal-budget", action="store_true",
                   help="conditioned side = RUN/stage2.pt (trained like stage 3) instead of the shipped hyperprior")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "ablation-conditioning.json")
    args = p.parse_args(argv)

    from PIL import Image

    from rac_video.eval.images import blobs, centre_gaussian

    from rac_video.codec import load_model
    from rac_video.codec.train import frozen_entropy_model
    from rac_video.eval.report import write_report
    from rac_video.importance import sideinfo

    codec = load_model(args.model)
    uncond, _, uncond_steps = frozen_entropy_model(args.run / "stage3.pt", codec.latent_channels)
    if args.equal_budget:
        cond, _, cond_steps = frozen_entropy_model(args.run / "stage2.pt", codec.latent_channels)
    else:
        cond, cond_steps = codec.hyper, codec.record["stages"]["stage2"]["steps"]
    files = sorted(args.data.rglob("*.png"))[: args.limit]
    qs = [int(q) for q in args.qualities.split(",")]
    rows = []
    for n, f in enumerate(files):
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        hw = codec.latent_hw(H, W)
        for mname, imp in (("uniform", None), ("centre", centre_gaussian(H, W)), ("blobs", blobs(H, W, 1000 + n))):
            levels = (np.full(hw, codec.levels - 1, np.uint8) if imp is None
                      else sideinfo.levels_from_importance(imp, hw, codec.levels))
            for q in qs:
                bits = {}
                for name, hp in (("conditioned", cond), ("unconditioned", uncond)):
                    with codec.entropy_model(hp):         # the hyperprior alone (no checkerboard context)
                        bits[name] = codec.estimate_bits(img, levels, q)
                rows.append({"image": f.name, "map": mname, "quality": q, **bits,
                             "saved_pct": 100 * (1 - bits["conditioned"] / bits["unconditioned"])})
                print(f"{f.name} {mname:8s} q={q:2d}: {bits['conditioned'] / (H * W):.4f} vs "
                      f"{bits['unconditioned'] / (H * W):.4f} bpp ({rows[-1]['saved_pct']:+.1f} %)")
    summary = {"mean_bits_saved_by_conditioning_pct": float(np.mean([r["saved_pct"] for r in rows])),
               "by_map": {m: float(np.mean([r["saved_pct"] for r in rows if r["map"] == m]))
                          for m in ("uniform", "centre", "blobs")},
               "by_quality": {q: float(np.mean([r["saved_pct"] for r in rows if r["quality"] == q])) for q in qs},
               "stage3_steps": uncond_steps, "conditioned_steps": cond_steps,
               "conditioned": f"{args.run}/stage2.pt" if args.equal_budget else f"{codec.name} hyperprior"}
    write_report(args.out, "tools/ablation_conditioning.py", argv, codec, images=[f.name for f in files],
                 summary=summary, rows=rows)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
