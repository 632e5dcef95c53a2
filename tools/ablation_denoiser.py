"""Ablation: the trained spatially varying denoiser vs a uniform-t denoiser with the global clock.

    python tools/ablation_denoiser.py --run runs/v4        # writes benchmarks/ablation-denoiser.json

docs/design.md §3.5.4: a standard diffusion model (one t per image) can decode a spatially
varying latent with a global clock that keeps each element pinned to its (re-noised) observation
until the clock reaches its own level ("differential diffusion"). This script decodes the *same*
latents ŷ (what the decoder has after entropy decoding, identical at equal bits) four ways:

  sv-elementwise        the shipped denoiser, elementwise DDIM from each element's own t (the codec)
  sv-global-clock       the shipped denoiser driven by the global clock with constant γ maps
  uniform-global-clock  ``RUN/stage1u.pt`` (same network trained on spatially constant t only,
                        ``rac-video train --stage 1u``) with the global clock: the design's baseline
  uniform-elementwise   the uniform-t network fed per-element γ (outside its training)

for K steps each, plus K = 0 (g_s(ŷ), no denoising), on importance maps that vary in space (a
centre Gaussian and random blobs; on a uniform map all four coincide). Quality: PSNR / MS-SSIM of
the whole image and inside / outside the important region (importance ≥ 0.5).

``--sv RUN/stage1.pt`` replaces the shipped denoiser by a stage-1 checkpoint, e.g. one trained with
the same recipe and steps as ``stage1u.pt``, so that the two trainings compare at equal budget.
The denoisers are compared alone: a model's posterior fusion (rac_video.codec.posterior) is not
applied to any variant.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RAC_VIDEO_DATA", ROOT.parent / "shared" / "data"))
VARIANTS = ("sv-elementwise", "sv-global-clock", "uniform-global-clock", "uniform-elementwise")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, required=True, help="training run folder with stage1u.pt")
    p.add_argument("--data", type=Path, default=DATA / "eval" / "kodak")
    p.add_argument("--qualities", default="2,8,14")
    p.add_argument("--steps", default="2,4,8")
    p.add_argument("--model", default=None,
                   help="shipped model (default: the default model); RUN's stage1u.pt must come from its latents")
    p.add_argument("--sv", type=Path, default=None,
                   help="stage-1 checkpoint for the spatially varying net (default: the model's shipped denoiser)")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "ablation-denoiser.json")
    args = p.parse_args(argv)

    import torch
    from PIL import Image
    from tqdm import tqdm

    from rac_video.eval.images import blobs, centre_gaussian
    from rac_video.eval.images import image_metrics as metrics

    from rac_video import ops
    from rac_video.codec import Codec, decode_image, encode_image, load_model
    from rac_video.codec.denoiser import denoise, denoise_global_clock
    from rac_video.codec.train import frozen_denoiser
    from rac_video.codec.image import parse_header
    from rac_video.eval.report import write_report
    from rac_video.importance import sideinfo

    ck_path = args.run / "stage1u.pt"
    if not ck_path.exists():
        print(f"{ck_path} not found: train it with `rac-video train --stage 1u --run {args.run}`", file=sys.stderr)
        return 2
    files = sorted(args.data.rglob("*.png"))[: args.limit]
    if not files:
        print(f"no PNG images under {args.data}", file=sys.stderr)
        return 2
    if args.sv is not None and not args.sv.exists():
        print(f"{args.sv} not found", file=sys.stderr)
        return 2
    codec = load_model(args.model)

    def checkpoint(path):
        """(denoiser, where it came from) of a stage-1 / 1u checkpoint."""
        ck = torch.load(path, map_location="cpu", weights_only=False)
        info = {"checkpoint": str(path), "steps": ck.get("step"),
                "seconds": round(ck.get("extra", {}).get("seconds", 0))}
        return frozen_denoiser(path, codec.latent_channels), info

    uniform, uniform_info = checkpoint(ck_path)
    sv, sv_info = (codec.denoiser, "shipped") if args.sv is None else checkpoint(args.sv)
    nets = {"sv": sv, "uniform": uniform}
    # the codec's own decoder without its posterior fusion: what sv-elementwise must reproduce
    plain = Codec(codec.name, fusion=0.0) if args.sv is None else None
    qs = [int(q) for q in args.qualities.split(",")]
    ks = [int(k) for k in args.steps.split(",")]
    rows, checked = [], False
    t_start = time.time()
    with torch.no_grad():
        for n, f in enumerate(tqdm(files, desc="denoiser ablation")):
            img = np.asarray(Image.open(f).convert("RGB"))
            H, W = img.shape[:2]
            for mname, imp in (("centre", centre_gaussian(H, W)), ("blobs", blobs(H, W, 1000 + n))):
                for q in qs:
                    data = encode_image(img, imp, quality=q, model=codec, colour=False)   # raw decoder output
                    hdr = parse_header(data)
                    levels = sideinfo.from_bytes(hdr["side_info"]).levels(codec.latent_hw(H, W))
                    table = codec.level_table(q)
                    level = codec.level_map(levels, H, W)
                    delta = table.delta.to(codec.device)
                    seed = hdr["seed"]
                    k = ops.quantize(codec.analysis(codec.frame_tensor(img), level), level, delta, seed, 0)
                    y_hat = ops.dequantize(k, level, delta, seed, 0)      # = the decoder's ŷ (lossless coding)
                    _, gamma = codec.condition(level, table)

                    def rgb(y0):
                        return codec.synthesize(y0, H, W)

                    base = {"image": f.name, "map": mname, "quality": q, "bpp": 8 * len(data) / (H * W)}
                    rows.append({**base, "variant": "none", "steps": 0, **metrics(img, rgb(y_hat), imp)})
                    for K in ks:
                        for v in VARIANTS:
                            net, sampler = v.split("-", 1)
                            with codec.pixel_precision():       # as the codec's decoder runs it
                                if sampler == "elementwise":
                                    y0 = denoise(nets[net], y_hat, gamma, K)
                                else:
                                    y0 = denoise_global_clock(nets[net], y_hat, gamma, K, seed=n)
                            rec = rgb(y0)
                            if plain is not None and not checked and v == "sv-elementwise":
                                # the codec's own decoder (fusion off) gives the same pixels
                                assert np.array_equal(rec, decode_image(data, model=plain, steps=K))
                                checked = True
                            rows.append({**base, "variant": v, "steps": K, **metrics(img, rec, imp)})

    keys = ("psnr", "ms_ssim", "psnr_roi", "psnr_bg", "ms_ssim_roi", "ms_ssim_bg")
    summary = {}
    for K in [0] + ks:
        for v in (("none",) if K == 0 else VARIANTS):
            sel = [r for r in rows if r["variant"] == v and r["steps"] == K]
            summary[f"{v} K={K}"] = {m: float(np.mean([r[m] for r in sel])) for m in keys}
    by_q = {f"q={q}": {f"{v} K={K}": float(np.mean([r["psnr"] for r in rows
                                                    if r["variant"] == v and r["steps"] == K and r["quality"] == q]))
                       for K in ks for v in VARIANTS} for q in qs}
    write_report(args.out, "tools/ablation_denoiser.py", argv, codec,
                 sv_denoiser=sv_info, uniform_t_denoiser=uniform_info, posterior_fusion="not applied",
                 images=[f.name for f in files], qualities=qs, seconds=round(time.time() - t_start),
                 summary_mean_over_images_maps_qualities=summary, psnr_by_quality=by_q, per_image=rows)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
