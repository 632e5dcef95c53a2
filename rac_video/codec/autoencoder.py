"""Analysis / synthesis transforms g_a, g_s (docs/design.md §3.1): f = 2^stages (8 or 16), C latent channels.

Small residual conv nets whose sizes come from the model's architecture (``weights.Architecture``):
``analysis`` lists each stride-2 stage of g_a as (channels, residual blocks), ``synthesis`` the
scales of g_s from the latent up, one more entry than g_a has stages. The defaults are rac-tiny's.
The latent is scaled by a per-channel buffer so that it has about unit variance on the training data
(set after stage-0 training), which is what the diffusion schedule assumes.

With ``importance=True`` g_a is importance-conditioned (spatial feature transform, Song et al. 2021):
after every stage a small network of the level map ℓ/(L−1) (at latent resolution, upsampled to the
stage's) gives a per-pixel scale and shift of the features, h ← h·(1 + a) + b, so the encoder spends
its capacity where the map asks. Its last layers start at zero (an untrained modulation is the identity).

With ``gdn=True`` the nonlinearity after each stride-2 convolution of g_a is generalised divisive
normalisation and the one after each upsampling of g_s its inverse (Ballé et al. 2016/2018,
``GDN``); GELU elsewhere (residual blocks), and everywhere without it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FACTOR = 8          # rac-tiny's; a codec's own is ``Codec.factor``
TINY_ANALYSIS = ((16, 0), (48, 1), (64, 1))
TINY_SYNTHESIS = ((64, 1), (48, 1), (32, 0), (16, 0))


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1), nn.GELU(), nn.Conv2d(ch, ch, 3, padding=1))

    def forward(self, x):
        return x + self.body(x)


class GDN(nn.Module):
    """Generalised divisive normalisation over channels, y_i = x_i / sqrt(β_i + Σ_j γ_ij x_j²), or its
    inverse (``inverse``: multiply). β and γ are kept non-negative by storing their square roots
    (β ≥ 1e-6 by a clamp); they start at β = 1, γ = 0.1·I (Ballé et al. 2018)."""

    def __init__(self, ch: int, inverse: bool = False):
        super().__init__()
        self.inverse = inverse
        self.beta_sqrt = nn.Parameter(torch.ones(ch))
        self.gamma_sqrt = nn.Parameter((0.1 * torch.eye(ch)).sqrt())

    def forward(self, x):
        beta = self.beta_sqrt.square().clamp_min(1e-6)
        gamma = self.gamma_sqrt.square()
        norm = F.conv2d(x * x, gamma[:, :, None, None], beta).sqrt()
        return x * norm if self.inverse else x / norm


class Modulation(nn.Module):
    """Per-pixel (scale, shift) of ``ch`` feature channels from a one-channel map."""

    def __init__(self, ch: int, hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.GELU(), nn.Conv2d(hidden, 2 * ch, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, h, m):
        scale, shift = self.net(F.interpolate(m, size=h.shape[-2:], mode="nearest")).chunk(2, dim=1)
        return h * (1 + scale) + shift


def _check_stages(stages, name):
    stages = tuple((int(c), int(r)) for c, r in stages)
    if not stages or any(c < 1 or r < 0 for c, r in stages):
        raise ValueError(f"{name} must be (channels ≥ 1, residual blocks ≥ 0) pairs, got {stages}")
    return stages


class Analysis(nn.Module):
    """g_a: RGB in [0, 1] (N,3,H,W), H and W multiples of f → latent (N,C,H/f,W/f) of ~unit variance;
    ``importance``: also takes the level map (N,1,H/f,W/f) in [0, 1] (module docstring)."""

    def __init__(self, latent_channels: int = 16, width: int = 64, *, stages=None, importance: bool = False,
                 gdn: bool = False):
        super().__init__()
        stages = _check_stages(stages or TINY_ANALYSIS[:-1] + ((width, TINY_ANALYSIS[-1][1]),), "analysis stages")
        layers, cin, self._ends = [], 3, []
        for cout, n_res in stages:
            layers += [nn.Conv2d(cin, cout, 5, stride=2, padding=2), GDN(cout) if gdn else nn.GELU()]
            layers += [ResBlock(cout) for _ in range(n_res)]
            self._ends.append(len(layers))
            cin = cout
        self.net = nn.Sequential(*layers, nn.Conv2d(cin, latent_channels, 3, padding=1))
        self.factor = 2 ** len(stages)
        self.importance = importance
        if importance:
            self.modulation = nn.ModuleList(Modulation(c) for c, _ in stages)
        self.register_buffer("scale", torch.ones(1, latent_channels, 1, 1))

    def forward(self, x, importance=None):
        if not self.importance:
            return self.net(x - 0.5) / self.scale
        if importance is None:
            raise ValueError("this analysis transform is importance-conditioned: pass the level map")
        h, stage = x - 0.5, 0
        for i, layer in enumerate(self.net):
            h = layer(h)
            if stage < len(self._ends) and i + 1 == self._ends[stage]:
                h = self.modulation[stage](h, importance.to(h.dtype))
                stage += 1
        return h / self.scale


class Synthesis(nn.Module):
    """g_s: latent → RGB (unclamped; clamp to [0, 1] for output)."""

    def __init__(self, latent_channels: int = 16, width: int = 64, *, stages=None, gdn: bool = False):
        super().__init__()
        stages = _check_stages(stages or ((width, TINY_SYNTHESIS[0][1]),) + TINY_SYNTHESIS[1:], "synthesis stages")

        def up(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout * 4, 3, padding=1), nn.PixelShuffle(2),
                                 GDN(cout, inverse=True) if gdn else nn.GELU())

        c0, r0 = stages[0]
        layers = [nn.Conv2d(latent_channels, c0, 3, padding=1), nn.GELU()] + [ResBlock(c0) for _ in range(r0)]
        for (cin, _), (cout, n_res) in zip(stages, stages[1:]):
            layers += [up(cin, cout)] + [ResBlock(cout) for _ in range(n_res)]
        self.net = nn.Sequential(*layers, nn.Conv2d(stages[-1][0], 3, 3, padding=1))
        self.factor = 2 ** (len(stages) - 1)
        self.register_buffer("scale", torch.ones(1, latent_channels, 1, 1))

    def channels_last(self) -> "Synthesis":
        """Keep weights and activations in channels-last (NHWC) layout: oneDNN's convolutions and the final
        conversion to HWC pixels are faster so (416×240 on 2 CPU cores: 19 → 13 ms; ``rac-video bench
        pipeline``). Results differ from NCHW only in float rounding."""
        self.to(memory_format=torch.channels_last)
        self._channels_last = True
        return self

    def forward(self, y):
        if getattr(self, "_channels_last", False):
            y = y.contiguous(memory_format=torch.channels_last)
        return self.net(y * self.scale) + 0.5
