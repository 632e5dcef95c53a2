"""Analysis / synthesis transforms g_a, g_s (docs/design.md §3.1): f = 8, C latent channels.

Small residual conv nets (CPU-trainable). The latent is scaled by a per-channel buffer so that
it has about unit variance on the training data (set after stage-0 training), which is what the
diffusion schedule assumes.
"""
from __future__ import annotations

import torch
from torch import nn

FACTOR = 8


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.GELU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class Analysis(nn.Module):
    """g_a: RGB in [0, 1] (N,3,H,W), H and W multiples of 8 → latent (N,C,H/8,W/8) of ~unit variance."""

    def __init__(self, latent_channels: int = 16, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, 5, stride=2, padding=2), nn.GELU(),
            nn.Conv2d(16, 48, 5, stride=2, padding=2), nn.GELU(), ResBlock(48),
            nn.Conv2d(48, width, 5, stride=2, padding=2), nn.GELU(), ResBlock(width),
            nn.Conv2d(width, latent_channels, 3, padding=1))
        self.register_buffer("scale", torch.ones(1, latent_channels, 1, 1))

    def forward(self, x):
        return self.net(x - 0.5) / self.scale


class Synthesis(nn.Module):
    """g_s: latent → RGB (unclamped; clamp to [0, 1] for output)."""

    def __init__(self, latent_channels: int = 16, width: int = 64):
        super().__init__()

        def up(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.PixelShuffle(2), nn.GELU())

        self.net = nn.Sequential(
            nn.Conv2d(latent_channels, width, 3, padding=1), nn.GELU(), ResBlock(width),
            up(width, 48), ResBlock(48), up(48, 32), up(32, 16),
            nn.Conv2d(16, 3, 3, padding=1))
        self.register_buffer("scale", torch.ones(1, latent_channels, 1, 1))

    def forward(self, y):
        return self.net(y * self.scale) + 0.5
