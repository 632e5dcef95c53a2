"""Issue 25's image benchmark: rate, ROI fidelity and background realism at matched bytes.

For every image × importance map × quality q: our codec decoded in fidelity mode (ρ = 0), in realism
mode (ρ = 1 by default), and without the colour layer (what files looked like before it); x264 with ROI
QP offsets (``x264-roi``, one frame) and JPEG matched to our payload's bytes (``eval.matching``, ±2 %).
Per reconstruction: bpp, PSNR in the ROI (importance ≥ 0.5) and the background, and ``eval.realism``'s
region report — Laplacian-pyramid patch SWD, high-frequency energy ratio, 64×64 block colour error.
Side-by-side PNGs (source | fidelity | realism | x264-roi) go to ``--pictures``; ``--figure FILE`` writes
the first image × map × quality as one still with zooms into the ROI and into the most detailed
background window (``eval.sidebyside.zoom_still``: what the README shows).

    python tools/realism_eval.py --images 13-24 --qualities 2,5 --maps centre,blobs
        --out benchmarks/realism-kodak13-24.json --pictures /tmp/realism   # report (Kodak 1–12: tuning)
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eval" / "kodak"




def _measure(src, rec, imp, nbytes):
    from rac_video.eval import metrics as M
    from rac_video.eval.realism import region_report

    H, W = src.shape[:2]
    roi = imp >= 0.5
    rep = region_report(src, rec, imp)
    def db(mask):                      # None for an empty region (a uniform map has no background)
        v = float(M.psnr(src, rec, mask)[0])
        return None if np.isnan(v) else v

    return {"bytes": int(nbytes), "bpp": 8 * nbytes / (H * W), "psnr_roi": db(roi), "psnr_bg": db(~roi),
            "swd_roi": rep["roi"]["swd"], "swd_bg": rep["bg"]["swd"], "hf_ratio_bg": rep["bg"]["hf_ratio"],
            "block_colour_max": rep["all"]["block_colour_max"], "block_colour_mean": rep["all"]["block_colour_mean"]}


def _figure(path, width, img, imp, row, pics, rho):
    """Source | fidelity | realism | x264-roi (what ``pics`` holds) as one still with zooms."""
    from PIL import Image

    from rac_video.eval import sidebyside as sbs

    H, W = img.shape[:2]
    side = min(H, W) // 4
    fovea = sbs.crop_box((W / 2, H / 2), side, (H, W))
    background = sbs.periphery_box(img, imp, side, below=0.2)

    def lines(name, r):
        return [name, f"{r['bpp']:.3f} bpp, {r['bytes']} B",
                f"ROI {r['psnr_roi']:.2f} dB, bg {r['psnr_bg']:.2f} dB" if r.get("psnr_bg") is not None else ""]

    labels = [[f"source {row['image']}", f"{row['map']} map, q {row['quality']}"],
              lines("ours, fidelity (rho 0)", row["fidelity"]), lines(f"ours, realism (rho {rho:g})", row["realism"])]
    if len(pics) > 3:
        labels.append(lines("x264-roi, same bytes", row["x264_roi"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sbs.zoom_still(pics, labels, fovea, background, width=width)).save(path, optimize=True)
    print(f"figure: {path}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--images", default="13-24", help="Kodak numbers (1-12 were used for tuning)")
    p.add_argument("--qualities", default="2,5")
    p.add_argument("--maps", default="centre,blobs", help="centre, blobs, uniform")
    p.add_argument("--no-baselines", action="store_true", help="only our codec (no x264 / JPEG matching)")
    p.add_argument("--realism", type=float, default=1.0)
    p.add_argument("--model", default=None)
    p.add_argument("--out", type=Path, default=Path("benchmarks/realism-kodak.json"))
    p.add_argument("--pictures", type=Path, default=None, help="write side-by-side PNGs here")
    p.add_argument("--figure", type=Path, default=None,
                   help="write the first image x map x quality as a still with ROI and background zooms (PNG)")
    p.add_argument("--figure-width", type=int, default=384, help="--figure: pixels per column")
    args = p.parse_args(argv)
    from PIL import Image

    from rac_video.codec import load_model
    from rac_video.eval.baselines import BaselineError, make_baseline
    from rac_video.eval.images import blobs, centre_gaussian, number_list
    from rac_video.eval.matching import match_baseline
    from rac_video.eval.report import write_report
    from rac_video.importance import sideinfo

    files = {int(f.stem): f for f in sorted(args.data.rglob("*.png")) if f.stem.isdigit()}
    images = [files[i] for i in number_list(args.images) if i in files]
    if not images:
        raise SystemExit(f"no Kodak images under {args.data}")
    m = load_model(args.model)
    x264, jpg = make_baseline("x264-roi"), make_baseline("jpeg")
    rows, t0 = [], time.time()
    for f in images:
        img = np.asarray(Image.open(f).convert("RGB"))
        H, W = img.shape[:2]
        maps = {"centre": centre_gaussian(H, W), "blobs": blobs(H, W, int(f.stem)),
                "uniform": np.ones((H, W), np.float32)}
        for mname in args.maps.split(","):
            imp = maps[mname]
            lv = sideinfo.levels_from_importance(imp, m.latent_hw(H, W), m.levels)
            for q in number_list(args.qualities):
                row = {"image": f.name, "map": mname, "quality": q}
                p_col, p_plain = m.encode_frame(img, lv, q), m.encode_frame(img, lv, q, colour=False)
                fid = m.decode_frame(p_col, lv, q, height=H, width=W)
                real = m.decode_frame(p_col, lv, q, height=H, width=W, realism=args.realism)
                plain = m.decode_frame(p_plain, lv, q, height=H, width=W)
                row["fidelity"] = _measure(img, fid, imp, len(p_col))
                row["realism"] = _measure(img, real, imp, len(p_col))
                row["no_colour_layer"] = _measure(img, plain, imp, len(p_plain))
                pics = [img, fid, real]
                for name, base in (() if args.no_baselines else (("x264_roi", x264), ("jpeg", jpg))):
                    try:
                        r = match_baseline(base, img[None], imp[None], len(p_col))
                    except BaselineError as exc:
                        row[name] = {"error": str(exc)}
                        continue
                    rec = r.encoded.decode()[0]
                    row[name] = {**_measure(img, rec, imp, r.encoded.nbytes), "matched": r.matched,
                                 "param": r.encoded.param}
                    if name == "x264_roi":
                        pics.append(rec)
                if args.pictures:
                    args.pictures.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(np.concatenate(pics, 1)).save(args.pictures / f"{f.stem}_{mname}_q{q}.png")
                if args.figure and not rows:
                    _figure(args.figure, args.figure_width, img, imp, row, pics, args.realism)
                rows.append(row)
        print(f"{f.name}: {time.time() - t0:.0f} s", flush=True)

    def mean(method, key, sel=lambda r: True):
        v = [r[method][key] for r in rows if sel(r) and key in r.get(method, {}) and r[method][key] is not None]
        return float(np.mean(v)) if v else None

    methods = [m for m in ("fidelity", "realism", "no_colour_layer", "x264_roi", "jpeg") if any(m in r for r in rows)]
    keys = ("bpp", "psnr_roi", "psnr_bg", "swd_roi", "swd_bg", "hf_ratio_bg", "block_colour_max", "block_colour_mean")
    summary = {meth: {k: mean(meth, k) for k in keys} for meth in methods}
    for meth in methods:
        summary[meth]["block_colour_max_worst"] = max(
            (r[meth]["block_colour_max"] for r in rows if r.get(meth, {}).get("block_colour_max") is not None),
            default=None)
        summary[meth]["matched_share"] = (float(np.mean([bool(r.get(meth, {}).get("matched")) for r in rows]))
                                          if meth in ("x264_roi", "jpeg") else None)
    summary["block_colour_max_worst_by_quality"] = {
        meth: {q: max((r[meth]["block_colour_max"] for r in rows if r["quality"] == q), default=None)
               for q in number_list(args.qualities)} for meth in ("fidelity", "realism", "no_colour_layer")}
    summary["bg_swd_realism_vs_x264"] = [r["realism"]["swd_bg"] / r["x264_roi"]["swd_bg"] for r in rows
                                         if r.get("x264_roi", {}).get("swd_bg")]
    summary["roi_psnr_realism_minus_fidelity"] = [r["realism"]["psnr_roi"] - r["fidelity"]["psnr_roi"] for r in rows]
    write_report(args.out, "tools/realism_eval.py", argv, m, images=[f.name for f in images],
                 convention="means over image x map x quality; x264-roi and JPEG matched to our payload bytes (±2 %); "
                            "ROI = importance >= 0.5", seconds=round(time.time() - t0), summary=summary, rows=rows)
    print(json.dumps({k: v for k, v in summary.items() if isinstance(v, dict)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
