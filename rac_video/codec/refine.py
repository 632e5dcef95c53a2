"""Encode-time latent refinement: the encoder optimises the latent it sends (encoder only).

g_a is an amortised guess; for the one frame at hand, a few gradient steps on y itself lower

    J(y) = R(y) + β · Σ_px [(255·(x̂(y) − x))² + κ·(1 − MS-SSIM(x̂(y), x))] / Δ_ℓ(px)²

(Campos et al. 2019, "Content adaptive optimization for neural image compression"; Yang et al. 2020).
R is the rate in bits the training objective uses — the float hyperprior (and checkerboard context)
with the noise proxy: ỹ = y/Δ + U with fresh uniform U every step, z̃ = h_a(y) + U, −log₂ of the
Gaussian mass over each element's bin plus the factorized ẑ prior — and x̂ is what the decoder
makes of Δ·ỹ: the codec's K deterministic DDIM steps with the spatially varying denoiser, then g_s
(in float32, with the torch reference ops so gradients flow; the posterior fusion, a correction of
well under 0.1 dB, is left out). Squared error alone raised PSNR but lowered MS-SSIM (Kodak 1–2, 50
steps: BD-rate −15 % on PSNR, +3.7 % on MS-SSIM): the MS-SSIM term (κ; frames under 161 pixels a side,
too small for its five scales, go without it) keeps the structure the squared error trades away. A proxy with the decoder's true hashed dither and a straight-through
round was tried and was worse (more bits and lower PSNR on Kodak 1 at q 4 and 8): the noise proxy
keeps the gradient of the expected rate, not of one draw.

The distortion of every pixel is weighted by 1/Δ² of its element's importance level: at high rate
a quantizer of step Δ trades bits for squared error at the slope −dR/dD ∝ 1/Δ² (the constant behind
rac_video.codec.rdoq), so one β serves every quality and every importance level, and refining does
not move bits between the map's regions against the map. Masked elements (no symbol; the decoder takes
μ there) cost no bits and decode as μ in the objective as well.

Adam on y for N steps (``refine=N``; 0: off), learning rate ``REFINE_LR`` in latent units. The result
is an ordinary latent: the bitstream format, the decoder and the estimate are unchanged, and, like g_a,
the refinement's float arithmetic decides nothing the decoder must repeat. It costs one forward and
backward pass of the whole codec per step (docs/results.md, "Latent refinement", for bits, quality
and seconds).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import ops
from ..entropy.models import FactorizedPrior, GaussianConditional
from ..ops import _checks
from .denoiser import denoise

__all__ = ["REFINE_BETA", "REFINE_KAPPA", "REFINE_LR", "MAX_REFINE", "check_refine", "check_beta", "check_kappa",
           "refine_latent"]

REFINE_BETA = 1.0e-3    # β (module docstring); chosen on Kodak 1–4 (docs/results.md, "Latent refinement")
REFINE_KAPPA = 1000.0   # κ, the MS-SSIM term's weight in squared 8-bit levels; chosen with β
MS_SSIM_MIN_SIDE = 161  # pytorch-msssim's five scales need more than 160 pixels a side
REFINE_LR = 0.01        # Adam's step size on y, in latent units
MAX_REFINE = 10_000


def check_refine(n) -> int:
    """The number of refinement steps N as an int; a clear error unless 0 <= N <= MAX_REFINE."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_REFINE:
        raise ValueError(f"refine must be an integer number of steps in 0..{MAX_REFINE}, got {n!r}")
    return n


def check_beta(beta) -> float:
    """β as a float; a clear error unless it is finite and > 0."""
    b = _checks.nonnegative(beta, "refinement β")
    if b == 0:
        raise ValueError("refinement β must be > 0 (refine=0 turns refinement off)")
    return b


def check_kappa(kappa) -> float:
    """κ as a float; a clear error unless it is finite and >= 0 (0: no MS-SSIM term)."""
    return _checks.nonnegative(kappa, "refinement κ")


def refine_latent(codec, x: torch.Tensor, y: torch.Tensor, level: torch.Tensor, quality: int, *,
                  iterations: int, steps: int, masked: int = 0, beta: float = REFINE_BETA,
                  kappa: float = REFINE_KAPPA, lr: float = REFINE_LR,
                  height: int | None = None, width: int | None = None, seed: int = 0) -> torch.Tensor:
    """The latent after ``iterations`` Adam steps on J (module docstring), detached; ``x`` the padded frame
    tensor (1, 3, H', W') in [0, 1], ``y`` = g_a(x), ``level`` the (1, 1, h, w) int32 level map, ``steps``
    the DDIM steps K the payload will ask for, ``masked`` its masked levels M; ``height`` × ``width`` the
    frame inside the padding (the distortion's support). ``seed`` seeds the proxy noise (the result is
    deterministic for a given seed, thread count and machine; it need not be anywhere else)."""
    iterations, beta, kappa = check_refine(iterations), check_beta(beta), check_kappa(kappa)
    if iterations == 0:
        return y
    table = codec.level_table(quality)
    cond, gamma = codec.condition(level, table)
    d = table.delta.to(codec.device)[level.long()]                        # (1, 1, h, w) Δ of every element
    H = x.shape[-2] if height is None else int(height)
    W = x.shape[-1] if width is None else int(width)
    f = codec.factor
    w_px = F.interpolate(d.pow(-2), scale_factor=f, mode="nearest")[..., :H, :W]   # 1/Δ² per pixel
    target = x[..., :H, :W].detach()
    if min(H, W) < MS_SSIM_MIN_SIDE:
        kappa = 0.0
    if kappa:
        from pytorch_msssim import ms_ssim
    w_sum = w_px.sum()
    coded = (~codec.masked_elements(level, masked)).float() if masked else None
    npx = float(H * W)
    gen = torch.Generator().manual_seed(0x5EF1 ^ int(seed))

    def noise(shape):
        return (torch.rand(shape, generator=gen) - 0.5).to(codec.device)

    y = y.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([y], lr=float(lr))
    hyper = codec.hyper
    with torch.enable_grad(), ops.use_backend("torch"):       # the reference ops: differentiable
        for _ in range(iterations):
            z = hyper.analysis(y, cond)
            z_tilde = z + noise(z.shape)
            mu, s = hyper.synthesis(z_tilde, cond)
            y_tilde = y / d + noise(y.shape)
            if codec.context is not None:
                mu, s = codec.context(d * y_tilde, mu, s, cond)
            bits_y = GaussianConditional.likelihood(y_tilde, mu, s, d)
            if coded is not None:
                bits_y = bits_y * coded
            bits = bits_y.sum() + FactorizedPrior.likelihood(z_tilde, hyper.z_log_scale).sum()
            y_dec = d * y_tilde if coded is None else torch.where(coded.bool(), d * y_tilde, mu)
            x_hat = codec.g_s(denoise(codec.denoiser, y_dec, gamma, steps)).float()[..., :H, :W]
            dist = (w_px * (255.0 * (x_hat - target)).pow(2)).sum()
            if kappa:
                dist = dist + kappa * w_sum * (1 - ms_ssim(x_hat.clamp(0, 1), target, data_range=1.0))
            loss = (bits + beta * dist) / npx
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return y.detach()
