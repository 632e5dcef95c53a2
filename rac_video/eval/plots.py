"""Rate–quality plots of an eval run (matplotlib, optional extra: imported lazily)."""
from __future__ import annotations

import os

PLOT_METRICS = (("psnr", "PSNR (dB)"), ("psnr_roi", "ROI PSNR (dB)"), ("psnr_fov", "foveated PSNR (dB)"),
                ("ms_ssim", "MS-SSIM"), ("ms_ssim_roi", "ROI MS-SSIM"), ("ms_ssim_fov", "foveated MS-SSIM"),
                ("fvvdp_jod", "FovVideoVDP (JOD)"), ("flicker_bg_rmse", "background flicker RMSE (lower = better)"),
                ("swd_bg", "background patch SWD (lower = better)"), ("swd_roi", "ROI patch SWD (lower = better)"),
                ("hf_ratio_bg", "background HF energy ratio (1 = source)"),
                ("block_colour_max_all", "max 64×64 block colour error (levels)"))


def plot_results(results, out_dir) -> list:
    """One PNG per sequence: a grid of quality-vs-bpp curves, one line per method. Returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    seqs = sorted({e["sequence"] for e in results["entries"]})
    for s in seqs:
        es = [e for e in results["entries"] if e["sequence"] == s]
        metrics = [(k, lab) for k, lab in PLOT_METRICS if any(e["metrics"].get(k) is not None for e in es)]
        n = len(metrics)
        cols = 3
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), squeeze=False)
        methods = list(dict.fromkeys(e["method"] for e in es))
        for ax, (k, lab) in zip(axes.flat, metrics):
            for m in methods:
                pts = sorted((e["metrics"]["bpp"], e["metrics"][k]) for e in es
                             if e["method"] == m and e["metrics"].get(k) is not None)
                if pts:
                    style = "-o" if m.startswith("ours") else "--."
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=m, lw=2 if m == "ours" else 1)
            ax.set_xlabel("bpp")
            ax.set_ylabel(lab)
            ax.set_xscale("log")
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(f"{results.get('name')}: {s}")
        fig.tight_layout()
        p = os.path.join(out_dir, f"rd_{s}.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths
