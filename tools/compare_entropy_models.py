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

ROOT = Path(__file__).resolve().parents[1]


def load_entropy_model(spec: str, channels: int):
    """(hyperprior, context or None) of a model name or a stage-2/3 checkpoint."""
    import torch

    from rac_video.codec.context import CheckerboardContext
    from rac_video.codec.hyperprior import HyperPrior
    from rac_video.codec.weights import load_state

    if spec.endswith(".pt"):
        modules = torch.load(spec, map_location="cpu", weights_only=False)["modules"]
    else:
        modules = load_state(spec)[0]
    hp_state = modules["hyperprior"]
    hp = HyperPrior(channels, conditioned=hp_state["h_a.0.weight"].shape[1] != channels)
    hp.load_state_dict(hp_state)
    ctx = None
    if "context" in modules:
        ctx = CheckerboardContext(channels)
        ctx.load_state_dict(modules["context"])
        ctx = ctx.eval().requires_grad_(False)
    return hp.eval().requires_grad_(False), ctx


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--entropy", required=True, help="NAME=MODEL_OR_CHECKPOINT,... (the first is the reference)")
    p.add_argument("--model", default=None, help="g_a and tables from this model (default: the default)")
    p.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "eval" / "kodak")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--qualities", default="0,3,6,9,12,15")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    specs = dict(item.split("=", 1) for item in args.entropy.split(",") if "=" in item)
    if not specs:
        p.error("--entropy needs NAME=MODEL_OR_CHECKPOINT entries")

    from PIL import Image

    sys.path.insert(0, str(ROOT / "tools"))
    from eval_images import centre_gaussian

    from rac_video.codec import load_model
    from rac_video.eval.report import write_report
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
        write_report(args.out, "tools/compare_entropy_models.py", argv, codec, entropy_models=specs,
                     images=[f.name for f in files], summary=summary, rows=rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
