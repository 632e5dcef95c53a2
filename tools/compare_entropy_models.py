"""Price the same symbols under several entropy models: what a hyperprior / context change buys.

    python tools/compare_entropy_models.py --entropy plain=runs/ctl/stage2.pt,context=runs/ctxA/stage2.pt

Each entry is a model name (its shipped hyperprior and context) or a stage-2 / stage-3 checkpoint
(``RUN/stage2.pt``; a context is used when the checkpoint has one, an unconditioned hyperprior is
recognised by its input width). For every Kodak image, quality and importance map (uniform and the
centre Gaussian of tools/eval_images.py) the codec's ``estimate_bits`` — the coder's own tables and
stream layout, within 0.6 % of the coded size — prices the *same* quantized latent under each
entropy model: the reconstruction is identical, only the rate differs. Reports bpp per quality and
each model's rate relative to the first (mean over images of the ratio, per quality and overall).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from rac_video.eval.report import comparison_args, parse_specs

ROOT = Path(__file__).resolve().parents[1]


def load_entropy_model(spec: str, channels: int):
    """(hyperprior, context or None) of a stage-2/3 checkpoint or of a model's shipped weights."""
    from rac_video.codec import load_model
    from rac_video.codec.train import frozen_entropy_model

    if spec.endswith(".pt"):
        return frozen_entropy_model(Path(spec), channels)[:2]
    model = load_model(spec)
    return model.hyper, model.context


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    comparison_args(p, "--entropy", "entropy models")
    args = p.parse_args(argv)
    specs = parse_specs(p, args.entropy, "--entropy")

    from PIL import Image

    from rac_video.eval.images import centre_gaussian

    from rac_video.codec import load_model
    from rac_video.importance import sideinfo

    codec = load_model(args.model)
    models = {name: load_entropy_model(spec, codec.latent_channels) for name, spec in specs.items()}
    files = sorted(args.data.rglob("*.png"))[: args.limit]
    if not files:
        print(f"no PNG images under {args.data}", file=sys.stderr)
        return 2
    qs = [int(q) for q in args.qualities.split(",")]
    rows = []
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        hw = codec.latent_hw(H, W)
        for mname, levels in (("uniform", np.full(hw, codec.levels - 1, np.uint8)),
                              ("centre", sideinfo.levels_from_importance(centre_gaussian(H, W), hw, codec.levels))):
            for q in qs:
                row = {"image": f.name, "map": mname, "quality": q}
                for name, (hp, ctx) in models.items():
                    with codec.entropy_model(hp, ctx):
                        row[name] = codec.estimate_bits(img, levels, q) / (H * W)       # bpp of the payload
                rows.append(row)
    ref = next(iter(models))

    def rel(name, sel):
        return float(np.mean([r[name] / r[ref] for r in rows if sel(r)]))

    summary = {name: {"bpp": {q: float(np.mean([r[name] for r in rows if r["quality"] == q and r["map"] == "uniform"]))
                              for q in qs},
                      f"rate_vs_{ref}": {"all": rel(name, lambda r: True),
                                         **{m: rel(name, lambda r, m=m: r["map"] == m) for m in ("uniform", "centre")},
                                         **{f"q{q}": rel(name, lambda r, q=q: r["quality"] == q) for q in qs}}}
               for name in models}
    for name, v in summary.items():
        print(f"{name:>10s}  uniform bpp " + " ".join(f"{b:.4f}" for b in v["bpp"].values())
              + f"   rate vs {ref}: {100 * (v[f'rate_vs_{ref}']['all'] - 1):+.2f} %")
    if args.out:
        from rac_video.eval.report import write_report

        write_report(args.out, "tools/compare_entropy_models.py", argv, codec, entropy_models=specs,
                     images=[f.name for f in files], summary=summary, rows=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
