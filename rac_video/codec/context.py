"""Checkerboard spatial context for the entropy model: two-pass coding of the latent.

The latent positions split into *anchors* ((i + j) even) and the rest. Anchors are coded first
with the hyperprior's (μ, s) alone. Every other element then gets its (μ, s) refined from the
dequantized anchors ŷ around it — which the decoder has by then — together with the hyperprior's
own (μ, s) and the condition [t(γ), importance]: the latents of a small autoencoder stay
spatially correlated, and a neighbour's value predicts an element better than ẑ alone.

The network's input at the non-anchor positions is zero, so its output there depends only on
decoded values; its last layer starts at zero, so an untrained context is the plain hyperprior.
Both ends run the same float network on the same ŷ; the coded integers (offsets, table indexes)
then come from ``ops.entropy_params`` like any other (μ, s).
"""
from __future__ import annotations

import torch
from torch import nn

from .hyperprior import SCALE_FLOOR


def anchor_mask(height: int, width: int, device=None) -> torch.Tensor:
    """(1, 1, h, w) bool: True at the anchor positions, (i + j) even."""
    i = torch.arange(height, device=device).view(-1, 1)
    j = torch.arange(width, device=device).view(1, -1)
    return ((i + j) % 2 == 0)[None, None]


class CheckerboardContext(nn.Module):
    def __init__(self, latent_channels: int = 16, width: int = 64, cond_channels: int = 2):
        super().__init__()
        C = latent_channels
        self.net = nn.Sequential(
            nn.Conv2d(3 * C + cond_channels, width, 5, padding=2), nn.GELU(),
            nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, 2 * C, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, y_hat: torch.Tensor, mu: torch.Tensor, scale: torch.Tensor, cond: torch.Tensor):
        """(μ, s) of every element: the hyperprior's at anchors, refined from the anchors of ``y_hat``
        (dequantized latent; its non-anchor values are never read) everywhere else."""
        anchor = anchor_mask(y_hat.shape[-2], y_hat.shape[-1], y_hat.device)
        seen = torch.where(anchor, y_hat, torch.zeros((), dtype=y_hat.dtype, device=y_hat.device))
        d_mu, d_log_s = self.net(torch.cat([seen, mu, scale.log(), cond], dim=1)).chunk(2, dim=1)
        mu_c = mu + d_mu
        s_c = (scale * d_log_s.clamp(-8, 8).exp()).clamp_min(SCALE_FLOOR)
        return torch.where(anchor, mu, mu_c), torch.where(anchor, scale, s_c)
