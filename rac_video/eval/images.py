"""Image-evaluation helpers shared by the tools (Kodak evaluation, ablations, entropy-model comparisons):
the importance maps they use, region metrics and a JPEG point through the eval baselines."""
from __future__ import annotations

import numpy as np

__all__ = ["number_list", "centre_gaussian", "blobs", "image_metrics", "jpeg"]


def number_list(spec: str) -> list[int]:
    """'1-12', '1,3,5' or '2,5-7' → the integers (the tools' image-number and quality lists)."""
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def centre_gaussian(h: int, w: int) -> np.ndarray:
    """(h, w) float32 importance: a Gaussian at the centre with σ = 0.22·min(h, w)."""
    yy, xx = np.mgrid[0:h, 0:w]
    s = 0.22 * min(h, w)
    return np.exp(-(((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / (2 * s * s))).astype(np.float32)


def blobs(h: int, w: int, seed: int) -> np.ndarray:
    """(h, w) random-blob importance map, seeded (``importance.random_maps``)."""
    from ..importance.random_maps import random_importance

    return random_importance(np.random.default_rng(seed), (h, w), "blobs")


def image_metrics(img, rec, importance=None) -> dict:
    """PSNR and MS-SSIM of ``rec`` against ``img``; with an importance map also inside (importance ≥ 0.5)
    and outside that region (``psnr_roi``, ``psnr_bg``, ``ms_ssim_roi``, ``ms_ssim_bg``)."""
    from . import metrics as M

    out = {"psnr": float(M.psnr(img, rec)[0]), "ms_ssim": float(M.ms_ssim(img, rec)[0])}
    if importance is not None:
        inside = importance >= 0.5
        out.update(psnr_roi=float(M.psnr(img, rec, inside)[0]), psnr_bg=float(M.psnr(img, rec, ~inside)[0]),
                   ms_ssim_roi=float(M.ms_ssim(img, rec, inside)[0]),
                   ms_ssim_bg=float(M.ms_ssim(img, rec, ~inside)[0]))
    return out


def jpeg(img, quality) -> tuple[int, np.ndarray]:
    """(bytes, decoded image) of one image as JPEG (the eval baseline: Pillow, 4:2:0, optimized)."""
    from .baselines import JpegBaseline

    enc = JpegBaseline().encode(np.asarray(img)[None], param=float(quality))
    return enc.nbytes, enc.decode()[0]
