"""The decoder's realism control (docs/design.md §3.5.5): how "generated" each latent element is.

The bitstream fixes what the decoder knows about every element — the quantization bin, the entropy
model's Gaussian — but not how to turn that into pixels. The fidelity decode (ρ = 0, the default of
every file written before this control existed) takes the deterministic DDIM path and the posterior
mean: close to the MMSE estimate, which is blur where the bits are few. With ρ > 0 the decoder draws a
*sample* instead, in proportion to how little the importance map asked for:

    w = ρ·max(0, 1 − 2ℓ/(L − 1))   (ℓ the element's importance level)

— ρ at level 0, falling to 0 at importance ½ and 0 above it: the ROI (importance ≥ ½, the threshold the
realism metrics use) keeps the fidelity decode. An earlier ramp, w = ρ·(1 − ℓ/(L − 1)), reached into the
ROI: with the trained realism synthesis (rac-tiny-v6p-real, centre map, q 2 and 5, Kodak 1–12) it cost up
to 0.44 dB of ROI PSNR; the knee costs ≤ 0.03 dB and lowers the background's patch SWD as well (0.222 vs
0.228). The shipped g_s_real was trained under the ramp (its inputs' w ranged over the same [0, ρ]).

and w is used three times:

1. the DDIM steps run with per-element stochasticity η = w (``denoiser.denoise(eta=…)``) — the file's K
   steps (``MIN_STEPS`` = 1: one step lands on t = 0 and adds no noise, so with the shipped K = 1 the
   sampling is all in step 2; on Kodak 1, 4, 7, 10 at q 2 and 6 with a centre map, forcing 3 stochastic
   steps cost 0.2 dB of ROI PSNR and changed the background's patch SWD by < 0.002);
2. the posterior step moves the estimate towards a draw from the bin-restricted posterior by w
   (``posterior.sample_posterior``);
3. where the model ships a realism synthesis transform (``g_s_real``, trained adversarially:
   ``rac-video train --stage realism``), the pixels blend g_s(fidelity latent) and g_s_real(sampled
   latent) with w bilinearly upsampled to the frame.

It is purely a decoder-side choice: the same file decodes in any mode, and every mode is
reproducible — the noise comes from a CPU generator seeded by the stream's seed and the frame index,
so two decoders of the same file with the same ρ draw the same numbers on any device.
"""
from __future__ import annotations

import math

import torch

from ..errors import InvalidInputError

__all__ = ["MIN_STEPS", "check_realism", "realism_weight", "realism_generator"]

MIN_STEPS = 1     # DDIM steps a realism decode runs at least: the file's K (see below)


def check_realism(rho) -> float:
    """ρ as a float in [0, 1]; a clear error otherwise."""
    if isinstance(rho, bool):
        raise InvalidInputError(f"realism must be a number in [0, 1], got {rho!r}")
    try:
        r = float(rho)
    except (TypeError, ValueError):
        raise InvalidInputError(f"realism must be a number in [0, 1], got {rho!r}") from None
    if not (math.isfinite(r) and 0.0 <= r <= 1.0):
        raise InvalidInputError(f"realism must be in [0, 1], got {rho!r}")
    return r


def realism_weight(level: torch.Tensor, levels: int, rho: float) -> torch.Tensor:
    """w = ρ·max(0, 1 − 2ℓ/(L − 1)) per element: (N,1,h,w) integer levels → float32 weights in [0, ρ]
    (0 wherever the importance is ½ or more)."""
    return (rho * (1.0 - 2.0 * level.float() / (levels - 1))).clamp_(0.0, 1.0)


def realism_generator(seed: int, dither_frame: int) -> torch.Generator:
    """The CPU generator of one frame's realism noise (the same numbers on every device)."""
    mix = (int(seed) * 0x9E3779B1 + int(dither_frame) * 0x85EBCA77 + 0x52EA1) % (2 ** 63)
    return torch.Generator().manual_seed(mix)
