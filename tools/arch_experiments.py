"""Issue 22's architecture experiments: autoencoders of candidate sizes trained for equal CPU time, then
compared on held-out images by a rate–distortion proxy.

    python tools/arch_experiments.py train --minutes 15 --runs runs/arch            # every candidate
    python tools/arch_experiments.py eval --runs runs/arch --images 1-12 --out A.json   # choose here
    python tools/arch_experiments.py eval --runs runs/arch --images 13-24 --out B.json  # report here

``train`` runs stage 0 (``python -m rac_video.codec.train --stage 0``) of each candidate in CANDIDATES
with the same recipe (batch 8, 128×128 crops, lr 5e-4 cosine over the budget, one torch thread),
``--parallel`` runs at a time (default: one per core), each for ``--minutes`` of wall time on its own
core: equal CPU time. A run folder that already holds a finished stage 0 is left alone.

``eval`` measures each run's autoencoder (and, for reference, a shipped model's: ``--shipped``) on Kodak
images without the entropy model or denoiser, which the candidates do not have yet:
for each step Δ in DELTAS the latent (unit variance per channel) is rounded to multiples of Δ and decoded
by g_s; the rate is the empirical entropy of the rounded values per channel, pooled over the images
(an adaptive factorized model's rate, side information not counted), the distortion PSNR and MS-SSIM.
BD-rates against the ``--anchor`` candidate are computed per image and then averaged (MS-SSIM in dB,
−10·log10(1 − MS-SSIM)); with the rates of each image from the pooled tables. A candidate with the
importance-conditioned g_a gets the uniform top-level map (the whole image important).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT / ".." / "shared" / "data" / "eval" / "kodak"
DELTAS = (0.15, 0.25, 0.4, 0.6, 0.9, 1.3, 1.9, 2.8)


def candidates() -> dict:
    """name → Architecture. Each differs from ``small`` in one choice: the importance modulation (SFT),
    GDN, residual blocks, latent channels, f = 8. ``small`` is the first rac-small (48 latent channels)
    without the modulation, fixed here so that the experiment stays what it measured after rac-small
    took its result (32 channels)."""
    from rac_video.codec.weights import ARCHITECTURES, Architecture

    small = Architecture(latent_channels=48, analysis=((48, 0), (96, 1), (160, 1), (192, 1)),
                         synthesis=((192, 2), (128, 1), (80, 1), (40, 0), (20, 0)), denoiser_width=160,
                         hyper_channels=24, hyper_width=128, context_width=128)
    return {
        "tiny": ARCHITECTURES["rac-tiny"],
        "small": small,
        "small-sft": dataclasses.replace(small, importance_analysis=True),
        "small-gdn": dataclasses.replace(small, gdn=True),
        "small-nores": dataclasses.replace(small, analysis=tuple((c, 0) for c, _ in small.analysis),
                                           synthesis=tuple((c, 0) for c, _ in small.synthesis)),
        "small-c32": dataclasses.replace(small, latent_channels=32),
        "small-c64": dataclasses.replace(small, latent_channels=64),
        "f8-c32": Architecture(latent_channels=32, analysis=((48, 0), (128, 1), (192, 1)),
                               synthesis=((192, 2), (128, 1), (64, 0), (32, 0)), denoiser_width=128,
                               hyper_channels=16, hyper_width=128, context_width=128),
    }


def train(args) -> int:
    cands = candidates()
    names = args.only.split(",") if args.only else list(cands)
    unknown = set(names) - set(cands)
    if unknown:
        raise SystemExit(f"unknown candidates {sorted(unknown)} (have {', '.join(cands)})")
    args.runs.mkdir(parents=True, exist_ok=True)
    queue, running = [], []
    for n in names:
        folder = args.runs / n
        folder.mkdir(exist_ok=True)
        spec = folder / "architecture.json"
        cands[n].save(spec)
        queue.append((n, [sys.executable, "-m", "rac_video.codec.train", "--stage", "0", "--run", str(folder),
                          "--arch", str(spec), "--minutes", str(args.minutes), "--batch", "8", "--crop", "128",
                          "--threads", "1", "--seed", "0", "--ckpt-every", "120"]))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    failed = 0
    while queue or running:
        while queue and len(running) < args.parallel:
            n, cmd = queue.pop(0)
            log = open(args.runs / n / "train.log", "w")
            print(f"start {n}: {' '.join(cmd)}", flush=True)
            running.append((n, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT), log))
        time.sleep(5)
        for item in list(running):
            n, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                failed += proc.returncode != 0
                print(f"done {n}: exit {proc.returncode}", flush=True)
    return 1 if failed else 0


def _entropy_bits(k: np.ndarray) -> np.ndarray:
    """Per element bits of integer symbols ``k`` (C, N) under each channel's empirical distribution."""
    out = np.empty(k.shape, np.float64)
    for c in range(k.shape[0]):
        vals, inv, counts = np.unique(k[c], return_inverse=True, return_counts=True)
        out[c] = -np.log2(counts / k.shape[1])[inv]
    return out


def _bd_rate(r_a, d_a, r_b, d_b) -> float | None:
    from rac_video.eval.bdrate import bd_rate

    try:
        return float(bd_rate(np.asarray(r_a), np.asarray(d_a), np.asarray(r_b), np.asarray(d_b)))
    except (ValueError, ArithmeticError):  # BDRateError: curves that do not overlap
        return None


def evaluate(args) -> int:
    import torch
    from PIL import Image

    from rac_video.codec.train import frozen_autoencoder
    from rac_video.codec.weights import load_modules
    from rac_video.eval import metrics as M
    from rac_video.eval.images import number_list

    torch.set_num_threads(args.threads)
    files = {int(f.stem): f for f in sorted(args.data.rglob("*.png")) if f.stem.isdigit()}
    images = [np.asarray(Image.open(files[i]).convert("RGB")) for i in number_list(args.images) if i in files]
    if not images:
        raise SystemExit(f"no Kodak images under {args.data}")
    models = {}
    for folder in sorted(p for p in args.runs.iterdir() if (p / "stage0.pt").exists()):
        ck = torch.load(folder / "stage0.pt", map_location="cpu", weights_only=False)
        g_a, g_s = frozen_autoencoder(folder)
        models[folder.name] = (g_a, g_s, {"steps": ck["step"], "seconds": round(ck["extra"].get("seconds", 0.0), 1),
                                          "architecture": ck["extra"].get("architecture")})
    for name in args.shipped or []:
        mods, arch, _, record = load_modules(name)
        models[f"shipped:{name}"] = (mods["g_a"], mods["g_s"], {"architecture": arch.to_record(),
                                                                "steps": record.get("stages", {}).get("stage0", {}).get("steps")})
    out = {"images": args.images, "deltas": list(DELTAS), "rate": "empirical entropy per channel, pooled over "
           "the images; side information not counted", "bd": "per image, then averaged; MS-SSIM in dB",
           "models": {}}
    for name, (g_a, g_s, info) in models.items():
        pars = sum(p.numel() for m in (g_a, g_s) for p in m.parameters())
        per_image = [{"bpp": [], "psnr": [], "ms_ssim_db": []} for _ in images]
        with torch.no_grad():
            latents = []
            for img in images:
                H, W = img.shape[:2]
                f = g_a.factor
                x = torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255
                x = torch.nn.functional.pad(x, (0, -W % f, 0, -H % f), mode="replicate")
                y = g_a(x, torch.ones(1, 1, x.shape[2] // f, x.shape[3] // f)) if g_a.importance else g_a(x)
                latents.append(y)
            for delta in DELTAS:
                ks = [torch.round(y / delta) for y in latents]
                flat = np.concatenate([k[0].flatten(1).numpy() for k in ks], axis=1)
                bits = _entropy_bits(flat.astype(np.int64))
                start = 0
                for i, (img, k) in enumerate(zip(images, ks)):
                    n = k[0, 0].numel()
                    H, W = img.shape[:2]
                    rec = g_s(k * delta)[0, :, :H, :W].clamp(0, 1).permute(1, 2, 0).numpy()
                    rec = np.round(rec * 255).astype(np.uint8)
                    ms = float(M.ms_ssim(img, rec)[0])
                    per_image[i]["bpp"].append(float(bits[:, start:start + n].sum()) / (H * W))
                    per_image[i]["psnr"].append(float(M.psnr(img, rec)[0]))
                    per_image[i]["ms_ssim_db"].append(-10 * np.log10(max(1 - ms, 1e-10)))
                    start += n
        mean = {k: [float(np.mean([p[k][j] for p in per_image])) for j in range(len(DELTAS))]
                for k in ("bpp", "psnr", "ms_ssim_db")}
        out["models"][name] = {**info, "autoencoder_parameters": pars, "mean": mean, "per_image": per_image}
        print(name, pars, {k: [round(v, 3) for v in vs] for k, vs in mean.items()}, flush=True)
    anchor = out["models"].get(args.anchor)
    if anchor is not None:
        for name, m in out["models"].items():
            for key in ("psnr", "ms_ssim_db"):
                vals = [_bd_rate(a["bpp"], a[key], b["bpp"], b[key])
                        for a, b in zip(anchor["per_image"], m["per_image"])]
                vals = [v for v in vals if v is not None]
                m[f"bd_rate_{key}_vs_{args.anchor}"] = float(np.mean(vals)) if vals else None
                m[f"bd_images_{key}"] = len(vals)  # images whose curves overlap the anchor's
            print(f"{name}: BD-rate vs {args.anchor} PSNR {m[f'bd_rate_psnr_vs_{args.anchor}']}, "
                  f"MS-SSIM(dB) {m[f'bd_rate_ms_ssim_db_vs_{args.anchor}']}", flush=True)
    if args.out:
        from rac_video.eval.report import write_report

        write_report(args.out, "tools/arch_experiments.py", args.argv, None, **out)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="stage 0 of every candidate, equal CPU time")
    t.add_argument("--runs", type=Path, default=Path("runs/arch"))
    t.add_argument("--minutes", type=float, default=15)
    t.add_argument("--parallel", type=int, default=os.cpu_count() or 1)
    t.add_argument("--only", default=None, help="comma-separated candidate names")
    e = sub.add_parser("eval", help="rate-distortion proxy of every trained run on Kodak")
    e.add_argument("--runs", type=Path, default=Path("runs/arch"))
    e.add_argument("--data", type=Path, default=KODAK)
    e.add_argument("--images", default="1-12")
    e.add_argument("--anchor", default="tiny", help="the BD-rate reference (a run folder's name)")
    e.add_argument("--shipped", action="append", help="also measure an installed model's autoencoder")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return train(args) if args.cmd == "train" else evaluate(args)


if __name__ == "__main__":
    raise SystemExit(main())
