"""Spatially varying denoiser ε_θ(z, γ-map) (docs/design.md §3.5).

A small UNet over the latent whose timestep conditioning is **per pixel**: the γ map (one value
per latent element position) goes through a sinusoidal embedding and a 1×1 MLP, and every block
gets a per-pixel scale/shift from it (resized to the block's resolution). Trained on uniform
noise ξ = √12·(U − ½) at random spatially varying noise maps; predicts ξ ("eps").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import ops, schedule
from ..ops.embedding import embedding_torch

EMBED_DIM = 32


def gamma_embedding(gamma: torch.Tensor, dim: int = EMBED_DIM) -> torch.Tensor:
    """Per-pixel sinusoidal embedding of t(γ) ∈ [0, 1]: (N,1,h,w) → (N,dim,h,w).

    The fused kernel ``rac_video.ops.gamma_embedding`` (equal to the torch formula within 4e-7);
    the plain torch formula when γ needs gradients or is not a float32 (N,1,h,w) map.
    """
    if (gamma.dtype != torch.float32 or gamma.dim() != 4 or gamma.shape[1] != 1
            or (gamma.requires_grad and torch.is_grad_enabled())):
        return embedding_torch(gamma, dim)
    return ops.gamma_embedding(gamma, dim)


class CondBlock(nn.Module):
    """conv → GroupNorm → per-pixel scale/shift from the embedding → GELU → conv, residual."""

    def __init__(self, ch: int, emb: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.norm = nn.GroupNorm(8, ch)
        self.film = nn.Conv2d(emb, 2 * ch, 1)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x, e):
        if e.shape[-2:] != x.shape[-2:]:
            e = F.adaptive_avg_pool2d(e, x.shape[-2:])
        scale, shift = self.film(e).chunk(2, dim=1)
        h = self.norm(self.conv1(x)) * (1 + scale) + shift
        return x + self.conv2(F.gelu(h))


class Denoiser(nn.Module):
    def __init__(self, latent_channels: int = 16, width: int = 64):
        super().__init__()
        self.embed = nn.Sequential(nn.Conv2d(EMBED_DIM, 64, 1), nn.GELU(), nn.Conv2d(64, 64, 1))
        self.inp = nn.Conv2d(latent_channels + 1, width, 3, padding=1)
        self.down1 = CondBlock(width, 64)
        self.pool = nn.Conv2d(width, width, 3, stride=2, padding=1)
        self.mid1 = CondBlock(width, 64)
        self.mid2 = CondBlock(width, 64)
        self.up = nn.Sequential(nn.Conv2d(width, width * 4, 3, padding=1), nn.PixelShuffle(2))
        self.up1 = CondBlock(width, 64)
        self.out = nn.Conv2d(width, latent_channels, 3, padding=1)

    def forward(self, z: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        """z (N,C,h,w) and its per-element log-SNR γ (N,1,h,w) → predicted ξ (N,C,h,w)."""
        e = self.embed(gamma_embedding(gamma))
        t = schedule.t_of_gamma(gamma).clamp(0, 1)
        h = self.inp(torch.cat([z, t], dim=1))
        skip = self.down1(h, e)
        h = self.pool(skip)
        h = self.mid2(self.mid1(h, e), e)
        h = self.up(h)[..., :skip.shape[-2], :skip.shape[-1]] + skip
        return self.out(self.up1(h, e))


def denoise(model: nn.Module, y_hat: torch.Tensor, gamma: torch.Tensor, steps: int, *,
            eta: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """K elementwise DDIM steps from each element's own γ to ≈ 0 (t_k = t·(1 − k/K)).

    ``y_hat`` is the dequantized latent (N,C,h,w) and ``gamma`` its per-element log-SNR (N,1,h,w);
    α·ŷ is a diffusion sample at each element's own t. K = 0 returns ŷ unchanged.

    ``eta`` (N,1,h,w) in [0, 1], optional: the per-element stochasticity of DDIM (docs/design.md §3.5.5;
    η = 0 is the deterministic update, η = 1 ancestral sampling). Each step then re-injects fresh noise
    of standard deviation σ_η = η·(σ'/σ)·sqrt(1 − α²σ'²/(α'²σ²)) and keeps σ'² − σ_η² of the predicted ε.
    The fresh noise is uniform, ξ = √12·(U − ½) — the noise type the denoiser was trained on — drawn on
    the CPU from ``generator`` so every device draws the same numbers. With K = 1 the single step lands on
    t = 0, where σ_η = 0: stochastic sampling needs K ≥ 2.
    """
    if steps == 0:
        return y_hat
    alpha, _ = schedule.alpha_sigma(gamma)
    z = alpha * y_hat
    for g_from, g_to in ops.ddim_gammas(gamma, steps):
        eps = model(z, g_from).float()      # (a bfloat16 autocast: Codec.pixel_precision)
        if eta is None:
            z = ops.ddim_step(z, eps, g_from, g_to)
            continue
        a_f, s_f = schedule.alpha_sigma(g_from)
        a_t, s_t = schedule.alpha_sigma(g_to)
        ratio = (a_f * s_t) / (a_t * s_f)
        s_eta = eta * (s_t / s_f) * (1 - ratio * ratio).clamp_min(0).sqrt()
        xi = (torch.rand(z.shape, generator=generator) - 0.5).mul_(12 ** 0.5).to(z.device)
        x0 = (z - s_f * eps) / a_f
        z = a_t * x0 + (s_t * s_t - s_eta * s_eta).clamp_min(0).sqrt() * eps + s_eta * xi
    return z / schedule.alpha_sigma(schedule.gamma_of_t(torch.zeros_like(gamma)))[0]


def denoise_global_clock(model: nn.Module, y_hat: torch.Tensor, gamma: torch.Tensor, steps: int, *,
                         seed: int = 0) -> torch.Tensor:
    """The training-free comparison point (docs/design.md §3.5.4; "differential diffusion"):
    one **global** clock τ runs from the largest t in the frame to 0 in K DDIM steps, the network
    always sees a spatially constant γ(τ), and an element whose own t is below the clock stays
    *pinned* to its observation re-noised up to the clock's level,
    z = α_τ·ŷ + √(σ_τ² − α_τ²σ_ℓ²/α_ℓ²)·ξ (fresh uniform ξ each step, from ``seed``), until the
    clock reaches its level. ``model`` is any ε-predictor with a γ-map input (a uniform-t one:
    ``rac-video train --stage 1u``). Ablation only: the codec decodes with :func:`denoise`.
    """
    if steps == 0:
        return y_hat
    gen = torch.Generator(device=y_hat.device).manual_seed(int(seed))
    t = schedule.t_of_gamma(gamma)                                        # (N,1,h,w)
    alpha_l, sigma_l = schedule.alpha_sigma(gamma)
    var_l = (sigma_l / alpha_l) ** 2                                      # ŷ = y + noise of this variance
    t_max = t.amax(dim=(1, 2, 3), keepdim=True)

    def observed_at(tau):
        a, s = schedule.alpha_sigma(schedule.gamma_of_t(tau))
        extra = torch.where(t >= tau, 0.0, (s ** 2 - a ** 2 * var_l).clamp_min(0).sqrt())
        xi = (torch.rand(y_hat.shape, generator=gen, device=y_hat.device) - 0.5) * 12 ** 0.5
        return a * y_hat + extra * xi

    z = observed_at(t_max)
    for i in range(steps):
        tau_from, tau_to = t_max * (1 - i / steps), t_max * (1 - (i + 1) / steps)
        g_from = schedule.gamma_of_t(tau_from).expand_as(gamma)
        g_to = schedule.gamma_of_t(tau_to).expand_as(gamma)
        z = ops.ddim_step(z, model(z, g_from.contiguous()).float(), g_from.contiguous(), g_to.contiguous())
        if i + 1 < steps:
            z = torch.where(t < tau_to, observed_at(tau_to), z)              # still pinned
    return z / schedule.alpha_sigma(schedule.gamma_of_t(torch.zeros_like(t)))[0]
