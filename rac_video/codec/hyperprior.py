"""Mean–scale hyperprior conditioned on the γ map and the importance map (docs/design.md §3.4).

h_a(y, cond) → hyper-latent z at 1/4 of the latent resolution, coded as ẑ = round(z) with a
factorized prior (per-channel zero-mean Gaussian with a learned scale). h_s(ẑ, cond) → (μ, s) in
latent units. cond = [t(γ), importance] at latent resolution, concatenated at the input of both
transforms, so the entropy model knows each element's step size and importance.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..entropy.models import FactorizedPrior

HYPER_FACTOR = 4
SCALE_FLOOR = 0.01  # s is at least this (latent units)


class HyperPrior(nn.Module):
    def __init__(self, latent_channels: int = 16, hyper_channels: int = 8, width: int = 64, conditioned: bool = True):
        super().__init__()
        self.conditioned = conditioned
        nc = 2 if conditioned else 0
        self.h_a = nn.Sequential(
            nn.Conv2d(latent_channels + nc, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(width, hyper_channels, 3, stride=2, padding=1))
        self.h_s_up = nn.Sequential(
            nn.Conv2d(hyper_channels, width * 4, 3, padding=1), nn.PixelShuffle(2), nn.GELU(),
            nn.Conv2d(width, width * 4, 3, padding=1), nn.PixelShuffle(2), nn.GELU())
        self.h_s = nn.Sequential(
            nn.Conv2d(width + nc, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, 2 * latent_channels, 3, padding=1))
        # factorized prior on ẑ: log of the per-channel scale
        self.z_log_scale = nn.Parameter(torch.zeros(hyper_channels))

    def _cond(self, x, cond):
        return torch.cat([x, cond], dim=1) if self.conditioned else x

    def analysis(self, y, cond):
        return self.h_a(self._cond(y, cond))

    def synthesis(self, z_hat, cond):
        h = self.h_s_up(z_hat)[..., :cond.shape[-2], :cond.shape[-1]]
        mu, s = self.h_s(self._cond(h, cond)).chunk(2, dim=1)
        return mu, F.softplus(s) + SCALE_FLOOR

    def z_scale(self):
        return FactorizedPrior.scale(self.z_log_scale)
