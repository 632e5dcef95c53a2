"""Kodak evaluation of the shipped model (issue 5): real files, every byte counted.

    python tools/eval_images.py                      # all 24 images → benchmarks/kodak.json (+ kodak.png)

1. Rate–quality with a uniform map at several qualities: bpp of the complete image bitstream,
   PSNR, MS-SSIM; JPEG (Pillow 4:2:0, optimized) and x264 intra (PyAV, CRF sweep, the whole
   elementary stream) on the same images; BD-rate of ours vs each.
2. Region adaptivity: a centre Gaussian and a random-blob importance map (seeded per image) vs the
   uniform map: PSNR / MS-SSIM inside (importance ≥ 0.5) and outside, compared at equal total bpp
   (BD-quality over the overlapping bpp range, in dB / MS-SSIM units).
3. Ablations: denoising steps K (the same bitstreams decoded with K = 0, 2, 4); the entropy model
   with vs without the γ / importance conditioning (``--ablation-run RUN`` with RUN/stage3.pt, the
   unconditioned hyperprior trained by ``rac-video train --stage 3``): bits of the *same* symbols,
   so the quality is identical and only the rate differs.
4. Estimated (``Codec.estimate_bits``) vs actual payload bits; encode / decode seconds per image.
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


from rac_video.eval.images import blobs, centre_gaussian, jpeg  # noqa: E402,F401  (re-exported for old callers)
from rac_video.eval.images import image_metrics as metrics  # noqa: E402


def curve(rows, codec, keys):
    pts = []
    for prm in sorted({r["param"] for r in rows if r["codec"] == codec}):
        sel = [r for r in rows if r["codec"] == codec and r["param"] == prm]
        pts.append({"param": prm, **{k: float(np.mean([r[k] for r in sel])) for k in keys if k in sel[0]}})
    return pts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=DATA / "eval" / "kodak")
    p.add_argument("--qualities", default="0,3,6,9,12,15")
    p.add_argument("--jpeg", default="1,3,8,15,30,50,75,90")
    p.add_argument("--x264", default="22,28,34,40,46,51", help="x264 intra CRFs")
    p.add_argument("--steps-ablation", default="0,1,2,4,8",
                   help="other K to decode the uniform streams with (the model's own K is skipped)")
    p.add_argument("--ablation-run", type=Path, default=None, help="training run with stage3.pt")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--model", default=None, help="model name (default: the default model; RAC_VIDEO_WEIGHTS "
                   "adds a folder of candidates)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "kodak.json")
    args = p.parse_args(argv)

    from PIL import Image
    from tqdm import tqdm

    from rac_video.codec import decode_image, encode_image, load_model
    from rac_video.codec.train import frozen_entropy_model
    from rac_video.codec.image import parse_header
    from rac_video.eval import bdrate
    from rac_video.eval.baselines import make_baseline
    from rac_video.eval.report import write_report
    from rac_video.importance import sideinfo

    files = sorted(args.data.rglob("*.png"))[: args.limit]
    if not files:
        print(f"no PNG images under {args.data}", file=sys.stderr)
        return 2
    codec = load_model(args.model)
    K0 = codec.steps
    qs = [int(q) for q in args.qualities.split(",")]
    extra_k = [int(k) for k in args.steps_ablation.split(",") if k != "" and int(k) != K0]
    uncond = None
    if args.ablation_run and (args.ablation_run / "stage3.pt").exists():
        uncond, _, _ = frozen_entropy_model(args.ablation_run / "stage3.pt", codec.latent_channels)
    x264 = make_baseline("x264-intra")
    rows = []
    for n, f in enumerate(tqdm(files, desc="kodak")):
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        maps = {"uniform": None, "centre": centre_gaussian(H, W), "blobs": blobs(H, W, 1000 + n)}
        for mname, imp in maps.items():
            for q in qs:
                t0 = time.perf_counter()
                data = encode_image(img, imp, quality=q, model=codec)
                t1 = time.perf_counter()
                rec = decode_image(data, model=codec)
                t2 = time.perf_counter()
                hdr = parse_header(data)
                levels = sideinfo.from_bytes(hdr["side_info"]).levels(codec.latent_hw(H, W))
                est = codec.estimate_bits(img, levels, q)
                row = {"image": f.name, "codec": f"ours-{mname}", "param": q, "bytes": len(data),
                       "bpp": 8 * len(data) / (H * W), "payload_bits": 8 * len(hdr["payload"]), "estimated_bits": est,
                       "side_info_bytes": len(hdr["side_info"]), "encode_s": t1 - t0, "decode_s": t2 - t1,
                       **metrics(img, rec, imp)}
                if mname == "uniform":              # the uniform map's quality in each other map's regions
                    for other in ("centre", "blobs"):
                        row.update({f"{k}@{other}": v for k, v in metrics(img, rec, maps[other]).items()
                                    if k.endswith(("_roi", "_bg"))})
                    for k in extra_k:
                        row.update({f"{m}_K{k}": v for m, v in metrics(img, decode_image(data, model=codec,
                                                                                         steps=k)).items()})
                if uncond is not None:              # hyperprior alone on both sides: only the conditioning differs
                    with codec.entropy_model(uncond):
                        row["estimated_bits_uncond"] = codec.estimate_bits(img, levels, q)
                    if codec.context is None:
                        row["estimated_bits_hyper"] = est
                    else:
                        with codec.entropy_model(codec.hyper):
                            row["estimated_bits_hyper"] = codec.estimate_bits(img, levels, q)
                rows.append(row)
        for q in [int(v) for v in args.jpeg.split(",")]:
            nb, rec = jpeg(img, q)
            rows.append({"image": f.name, "codec": "jpeg", "param": q, "bytes": nb, "bpp": 8 * nb / (H * W),
                         **metrics(img, rec)})
        for crf in [int(v) for v in args.x264.split(",")]:
            e = x264.encode(img[None], None, crf)
            rows.append({"image": f.name, "codec": "x264-intra", "param": crf, "bytes": e.nbytes,
                         "bpp": 8 * e.nbytes / (H * W), **metrics(img, e.decode()[0])})

    keys = ["bpp", "psnr", "ms_ssim", "psnr_roi", "psnr_bg", "ms_ssim_roi", "ms_ssim_bg", "encode_s", "decode_s",
            "payload_bits", "estimated_bits", "estimated_bits_uncond", "estimated_bits_hyper"] + \
        [f"{m}_{r}@{o}" for m in ("psnr", "ms_ssim") for r in ("roi", "bg") for o in ("centre", "blobs")] + \
        [f"{m}_K{k}" for k in extra_k for m in ("psnr", "ms_ssim")]
    curves = {c: curve(rows, c, keys) for c in sorted({r["codec"] for r in rows})}

    def bd(fn, a, b, key_a, key_b=None):
        try:
            ca, cb = curves[a], curves[b]
            return fn([x["bpp"] for x in ca], [x[key_a] for x in ca], [x["bpp"] for x in cb],
                      [x[key_b or key_a] for x in cb])
        except (bdrate.BDRateError, KeyError) as exc:
            return f"n/a ({exc})"

    ours = [r for r in rows if r["codec"].startswith("ours")]
    err = [r["estimated_bits"] / r["payload_bits"] - 1 for r in ours]
    summary = {
        "bd_rate_pct": {f"ours-uniform vs {b}": {m: bd(bdrate.bd_rate, b, "ours-uniform", m)
                                                 for m in ("psnr", "ms_ssim")} for b in ("jpeg", "x264-intra")},
        "region_adaptivity_vs_uniform_at_equal_bpp": {
            m: {k: bd(bdrate.bd_quality, "ours-uniform", f"ours-{m}", f"{k}@{m}", k)
                for k in ("psnr_roi", "psnr_bg", "ms_ssim_roi", "ms_ssim_bg")} for m in ("centre", "blobs")},
        "steps_ablation": {f"K={k}": {m: float(np.mean([r[f"{m}_K{k}"] for r in rows if r["codec"] == "ours-uniform"]))
                                      for m in ("psnr", "ms_ssim")} for k in extra_k},
        f"steps_default_K={K0}": {m: float(np.mean([r[m] for r in rows if r["codec"] == "ours-uniform"]))
                                  for m in ("psnr", "ms_ssim")},
        "estimate_vs_actual_payload": {"mean_pct": 100 * float(np.mean(err)),
                                       "max_abs_pct": 100 * float(np.max(np.abs(err)))},
        "seconds_per_image": {"encode": float(np.mean([r["encode_s"] for r in ours])),
                              "decode": float(np.mean([r["decode_s"] for r in ours]))},
    }
    if uncond is not None:
        saved = [1 - r["estimated_bits_hyper"] / r["estimated_bits_uncond"] for r in ours]
        summary["conditioning_ablation"] = {
            "bits_saved_by_conditioning_pct": 100 * float(np.mean(saved)),
            "by_map": {m: 100 * float(np.mean([1 - r["estimated_bits_hyper"] / r["estimated_bits_uncond"]
                                               for r in ours if r["codec"] == f"ours-{m}"]))
                       for m in ("uniform", "centre", "blobs")},
            "note": "hyperprior alone on both sides (a model's checkerboard context is left out)"}
    write_report(args.out, "tools/eval_images.py", argv, codec, steps=K0, posterior_fusion=codec.fusion,
                 rdoq=codec.rdoq, images=[f.name for f in files], summary=summary, curves=curves, per_image=rows)
    _plot(curves, args.out.with_suffix(".png"))
    print(json.dumps(summary, indent=1))
    return 0


def _plot(curves, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    for c, pts in curves.items():
        b = [x["bpp"] for x in pts]
        ax[0].plot(b, [x["psnr"] for x in pts], "o-", label=c)
        ax[1].plot(b, [x["ms_ssim"] for x in pts], "o-", label=c)
    # region adaptivity: the centre map inside / outside its region vs the uniform map in the same region
    for c, key, style, label in (("ours-centre", "psnr_roi", "o-", "centre map, inside"),
                                 ("ours-centre", "psnr_bg", "x--", "centre map, outside"),
                                 ("ours-uniform", "psnr_roi@centre", "s-", "uniform map, inside the centre region"),
                                 ("ours-uniform", "psnr_bg@centre", "+--", "uniform map, outside it")):
        pts = curves.get(c, [])
        if pts and key in pts[0]:
            ax[2].plot([x["bpp"] for x in pts], [x[key] for x in pts], style, label=label)
    for a, t in zip(ax, ("PSNR (dB)", "MS-SSIM", "centre-Gaussian region: PSNR inside / outside (dB)")):
        a.set_xlabel("bpp (all bytes)")
        a.set_title(t)
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def replot(json_path):
    """Redraw the figure from a written result file: ``python -c 'import eval_images; eval_images.replot(P)'``."""
    _plot(json.loads(Path(json_path).read_text())["curves"], Path(json_path).with_suffix(".png"))


if __name__ == "__main__":
    raise SystemExit(main())
