"""Noise schedule and the importance-level tables (docs/design.md §3.2–3.3).

Variance-preserving diffusion, z_t = α_t·y + σ_t·ξ with α² + σ² = 1, parametrised by the log-SNR
γ = log(α²/σ²), so α² = sigmoid(γ) and σ² = sigmoid(−γ). Continuous time t ∈ [0, 1] is linear in
γ: γ(t) = GAMMA_MAX + (GAMMA_MIN − GAMMA_MAX)·t (t = 0 nearly clean, t = 1 nearly pure noise).

A global integer quality q picks two end points γ_bg(q) < γ_roi(q); importance level ℓ ∈ {0 … L−1}
gets γ(ℓ) = γ_bg + (γ_roi − γ_bg)·ℓ/(L−1), and the universal-quantization step Δ(ℓ) = √12·σ/α.
Tables are computed in float64 once and stored as float32; encoder and decoder index them with
the same integers, so both ends use identical step sizes.

The q → (γ_bg, γ_roi) ramp is versioned (``RAMPS``): a model's record names the version its entropy
model was trained with (``schedule_version``, 1 when absent) and the codec uses that one, so old
bitstreams keep decoding. Never change a published ramp; add a version.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

__all__ = ["SCHEDULE_VERSION", "RAMPS", "GAMMA_MIN", "GAMMA_MAX", "Q_MAX", "QUALITIES", "DEFAULT_LEVELS",
           "gamma_of_t", "t_of_gamma", "alpha_sigma", "gamma_range", "LevelTable", "level_table"]

SCHEDULE_VERSION = 2          # the ramp new models are trained with
GAMMA_MIN = -8.0    # t = 1: α² ≈ 3.4e-4
GAMMA_MAX = 12.0    # t = 0: σ² ≈ 6.1e-6
Q_MAX = 15
QUALITIES = range(Q_MAX + 1)
DEFAULT_LEVELS = 16
# version: (ROI_GAMMA0, ROI_GAMMA_STEP, BG_SPAN) with γ_roi(q) = ROI_GAMMA0 + ROI_GAMMA_STEP·q and
# γ_bg(q) = max(γ_roi(q) − BG_SPAN, GAMMA_MIN).
# 1: γ_roi ∈ [1, 8.5] (rac-tiny-v1); a uniform map spans ≈ 0.14–1.15 bpp on Kodak, flat above q ≈ 9.
# 2: γ_roi ∈ [−1, 7.25]; a uniform map reaches down to ≈ 0.07 bpp and spends less above saturation.
RAMPS = {1: (1.0, 0.5, 7.0), 2: (-1.0, 0.55, 7.0)}


def gamma_of_t(t):
    """log-SNR at continuous time t ∈ [0, 1] (tensor or float)."""
    return GAMMA_MAX + (GAMMA_MIN - GAMMA_MAX) * t


def t_of_gamma(gamma):
    """Inverse of :func:`gamma_of_t`."""
    return (gamma - GAMMA_MAX) / (GAMMA_MIN - GAMMA_MAX)


def alpha_sigma(gamma):
    """(α, σ) for a log-SNR tensor: α = sqrt(sigmoid(γ)), σ = sqrt(sigmoid(−γ))."""
    gamma = torch.as_tensor(gamma)
    return torch.sigmoid(gamma).sqrt(), torch.sigmoid(-gamma).sqrt()


def gamma_range(q: int, version: int = SCHEDULE_VERSION) -> tuple[float, float]:
    """(γ_bg, γ_roi) for quality q under ramp ``version``."""
    q = _check_q(q)
    if version not in RAMPS:
        raise ValueError(f"unknown schedule version {version!r} (this build knows {sorted(RAMPS)})")
    roi0, step, span = RAMPS[version]
    roi = roi0 + step * q
    return max(roi - span, GAMMA_MIN), roi


def _check_q(q) -> int:
    if isinstance(q, bool) or not isinstance(q, int) or not 0 <= q <= Q_MAX:
        raise ValueError(f"quality must be an integer in 0..{Q_MAX}, got {q!r}")
    return q


@dataclass(frozen=True)
class LevelTable:
    """Per-level γ, t, α, σ and Δ (float32, length ``levels``) for quality ``q``."""
    q: int
    levels: int
    gamma: torch.Tensor
    t: torch.Tensor
    alpha: torch.Tensor
    sigma: torch.Tensor
    delta: torch.Tensor
    # per element, a field is indexed by the integer level raster: ``table.gamma.to(device)[level.long()]``
    # (the same form the ops use on their bare Δ tensors)


@functools.lru_cache(maxsize=None)
def level_table(q: int, levels: int = DEFAULT_LEVELS, version: int = SCHEDULE_VERSION) -> LevelTable:
    q = _check_q(q)
    if isinstance(levels, bool) or not isinstance(levels, int) or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an integer in 2..256, got {levels!r}")
    g_bg, g_roi = gamma_range(q, version)
    rows = []
    for ell in range(levels):
        g = g_bg + (g_roi - g_bg) * ell / (levels - 1)
        a2 = 1.0 / (1.0 + math.exp(-g))
        s2 = 1.0 / (1.0 + math.exp(g))
        a, s = math.sqrt(a2), math.sqrt(s2)
        rows.append((g, (g - GAMMA_MAX) / (GAMMA_MIN - GAMMA_MAX), a, s, math.sqrt(12.0) * s / a))
    cols = torch.tensor(rows, dtype=torch.float64).to(torch.float32).T.contiguous()
    return LevelTable(q, levels, *cols)
