"""What the entropy coding costs beyond the model, and what the integer networks cost beyond the float ones.

    python tools/entropy_overhead.py --models rac-tiny-v5,rac-tiny-v6 --images 13-24

For every image × quality (0…15) × map (uniform, centre Gaussian), with each model:
* ``coded``: the bits of the y streams the encoder writes (exact: the coder's tables and stream layout);
* ``info``: the information content of the same levels k under the model's continuous Gaussians —
  −log2 of the mass of N(μ, s²) over each quantization bin (``Codec.information_function``), with s/Δ at
  least the smallest table scale 0.11, as the networks were trained (``info_unfloored``: without;
  where the model puts s/Δ below the floor — the background of importance maps — that figure
  measures the untrained part of the model, not the tables);
* ``payload``: the whole frame payload (ẑ + y + header, as ``Codec.estimate_bits``; RDOQ off).
The table overhead is Σ coded / Σ info − 1 (per model); two models with the same autoencoder code the
same levels k, so Σ payload of one over the other is their rate ratio at equal quality (the
decoded PSNR is measured too, on ``--psnr-qualities``). Writes benchmarks/entropy-overhead.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]




def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="rac-tiny-v5,rac-tiny-v6")
    p.add_argument("--images", default="13-24", help="Kodak numbers (13-24: not used to choose any setting)")
    p.add_argument("--qualities", default="0-15")
    p.add_argument("--psnr-qualities", default="0,8,15")
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "eval" / "kodak")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "entropy-overhead.json")
    args = p.parse_args(argv)

    from PIL import Image

    from rac_video.codec import load_model
    from rac_video.eval.images import centre_gaussian, number_list
    from rac_video.eval.metrics import psnr
    from rac_video.importance import sideinfo

    files = {int(f.stem): f for f in sorted(args.data.rglob("*.png"))}
    images = [files[i] for i in number_list(args.images) if i in files]
    if not images:
        raise SystemExit(f"no Kodak images under {args.data}")
    models = [load_model(m) for m in args.models.split(",")]
    qs, pq = number_list(args.qualities), set(number_list(args.psnr_qualities))
    rows, t0 = [], time.time()
    for f in images:
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        hw = models[0].latent_hw(H, W)
        maps = {"uniform": np.full(hw, models[0].levels - 1, np.uint8),
                "centre": sideinfo.levels_from_importance(centre_gaussian(H, W), hw, models[0].levels)}
        for mname, lv in maps.items():
            fns = {m.name: m.information_function(img, lv) for m in models}
            for q in qs:
                row = {"image": f.name, "map": mname, "quality": q}
                for m in models:
                    r = fns[m.name](q)
                    row[m.name] = {"coded": r["coded_y"], "info": r["info_y"], "info_unfloored": r["info_y_unfloored"],
                                   "payload": r["payload"]}
                    if q in pq:
                        rec = m.decode_frame(m.encode_frame(img, lv, q, rdoq=0.0), lv, q, height=H, width=W)
                        row[m.name]["psnr"] = float(psnr(img, rec)[0])
                rows.append(row)
        print(f"{f.name}: {time.time() - t0:.0f} s", flush=True)

    def total(name, key, sel=lambda r: True):
        return float(sum(r[name][key] for r in rows if sel(r) and key in r[name]))

    summary = {}
    for m in models:
        s = {"table_overhead": total(m.name, "coded") / total(m.name, "info") - 1,
             "vs_unfloored_information": total(m.name, "coded") / total(m.name, "info_unfloored") - 1,
             "table_overhead_by_quality": {q: total(m.name, "coded", lambda r, q=q: r["quality"] == q)
                                           / total(m.name, "info", lambda r, q=q: r["quality"] == q) - 1 for q in qs},
             "table_overhead_by_map": {k: total(m.name, "coded", lambda r, k=k: r["map"] == k)
                                       / total(m.name, "info", lambda r, k=k: r["map"] == k) - 1 for k in maps},
             "table_overhead_max_cell": max(
                 total(m.name, "coded", lambda r, k=k, q=q: r["map"] == k and r["quality"] == q)
                 / total(m.name, "info", lambda r, k=k, q=q: r["map"] == k and r["quality"] == q) - 1
                 for k in maps for q in qs),
             "mean_psnr": float(np.mean([r[m.name]["psnr"] for r in rows if "psnr" in r[m.name]]))}
        summary[m.name] = s
    ref = models[0].name
    for m in models[1:]:
        summary[m.name]["payload_vs_" + ref] = total(m.name, "payload") / total(ref, "payload") - 1
        summary[m.name]["payload_vs_" + ref + "_by_quality"] = {
            q: total(m.name, "payload", lambda r, q=q: r["quality"] == q)
            / total(ref, "payload", lambda r, q=q: r["quality"] == q) - 1 for q in qs}
    from rac_video.eval.report import write_report

    write_report(args.out, "tools/entropy_overhead.py", argv, models[-1],
                 models={m.name: m.weights_hash for m in models}, images=[f.name for f in images],
                 seconds=round(time.time() - t0), summary=summary, rows=rows)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
