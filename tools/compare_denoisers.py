"""Decode the same latents with several denoisers: which training makes the better decoder.

    python tools/compare_denoisers.py --denoisers shipped=rac-tiny-v3,eps=runs/denA/stage1.pt,minsnr=runs/denB/stage1.pt

For each Kodak image and quality (uniform importance map), the model's g_a and the codec's own
universal quantization (hashed dither, seed 0) give one ŷ; every denoiser then runs the codec's
K elementwise DDIM steps from it and the model's g_s renders the result. The symbols — and so
the rate — are identical for all of them: only the reconstruction differs. A denoiser is a model
name (its shipped denoiser) or a stage-1 checkpoint (``RUN/stage1.pt``). The denoisers are compared
alone: a model's posterior fusion (rac_video.codec.posterior), which needs the entropy model's
(μ, s), is not applied here.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rac_video.eval.report import comparison_args, parse_specs

def load_denoiser(spec: str, channels: int):
    """A stage-1 checkpoint's denoiser, or a model's shipped one."""
    from rac_video.codec import load_model
    from rac_video.codec.train import frozen_denoiser

    return frozen_denoiser(Path(spec), channels) if spec.endswith(".pt") else load_model(spec).denoiser


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    comparison_args(p, "--denoisers", "denoisers")
    p.add_argument("--steps", type=int, default=None, help="K (default: the codec's)")
    args = p.parse_args(argv)
    specs = parse_specs(p, args.denoisers, "--denoisers")

    import torch
    from PIL import Image

    from rac_video import ops
    from rac_video.codec import load_model
    from rac_video.codec.denoiser import denoise
    from rac_video.codec.model import uint8_frame
    from rac_video.eval.metrics import ms_ssim, psnr

    codec = load_model(args.model)
    K = codec.steps if args.steps is None else args.steps
    dens = {name: load_denoiser(spec, codec.latent_channels) for name, spec in specs.items()}
    files = sorted(args.data.rglob("*.png"))[: args.limit]
    if not files:
        print(f"no PNG images under {args.data}", file=sys.stderr)
        return 2
    qs = [int(q) for q in args.qualities.split(",")]
    rows = []
    with torch.no_grad():
        for f in files:
            img = np.asarray(Image.open(f).convert("RGB"))
            H, W = img.shape[:2]
            level = codec.level_map(np.full(codec.latent_hw(H, W), codec.levels - 1, np.uint8), H, W)
            y = codec.analysis(codec.frame_tensor(img), level)
            for q in qs:
                table = codec.level_table(q)
                y_hat = ops.dequantize(ops.quantize(y, level, table.delta, 0, 0), level, table.delta, 0, 0)
                gamma = table.gamma[level.long()]
                for name, den in dens.items():
                    rec = uint8_frame(codec.g_s(denoise(den, y_hat, gamma, K)), H, W)
                    rows.append({"image": f.name, "quality": q, "denoiser": name,
                                 "psnr": float(np.mean(psnr(img, rec))),
                                 "ms_ssim": float(np.mean(ms_ssim(img, rec)))})
    summary = {name: {q: {m: float(np.mean([r[m] for r in rows if r["denoiser"] == name and r["quality"] == q]))
                          for m in ("psnr", "ms_ssim")} for q in qs} for name in dens}
    for name, by_q in summary.items():
        print(f"{name:>10s}  " + "  ".join(f"q{q} {v['psnr']:.2f} dB / {v['ms_ssim']:.4f}" for q, v in by_q.items()))
    if args.out:
        from rac_video.eval.report import write_report

        write_report(args.out, "tools/compare_denoisers.py", argv, codec, steps=K, denoisers=specs,
                     images=[f.name for f in files], summary=summary, rows=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
