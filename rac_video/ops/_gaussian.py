"""The Gaussian-conditional constants the entropy-parameter kernels share with the coder's tables.

The scale table (version :data:`SCALE_TABLE_VERSION`) and its bounds, the mean-bucket rule and the
quantized-Gaussian likelihood live here, below both layers: ``ops.entropy_params`` computes with
them and ``rac_video.entropy`` builds its integer tables from them (entropy imports ops, never the
reverse).
"""
from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["SCALE_TABLE_VERSION", "SCALE_MIN", "SCALE_MAX", "SCALE_LEVELS", "SCALE_TABLE", "SCALE_BOUNDS",
           "MEAN_BUCKETS", "mean_bucket", "gaussian_bits", "LIKELIHOOD_FLOOR"]

SCALE_TABLE_VERSION = 1
SCALE_MIN, SCALE_MAX, SCALE_LEVELS = 0.11, 256.0, 64

# table scales, log-spaced (computed in float64, stored float32)
SCALE_TABLE = np.exp(np.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS)).astype(np.float32)
# index(r) = number of bounds strictly below r (bounds: float32 geometric midpoints of the table)
SCALE_BOUNDS = np.sqrt(SCALE_TABLE[:-1].astype(np.float64) * SCALE_TABLE[1:].astype(np.float64)).astype(np.float32)

# The coded symbol is v = k − offset with offset = ⌊m + ½⌋, centred on d = m − offset ∈ [−½, ½):
# the coder's tables are indexed by (scale, bucket of d), MEAN_BUCKETS per scale.
MEAN_BUCKETS = 16


def mean_bucket(d, buckets: int = MEAN_BUCKETS):
    """Bucket ⌊(d + ½)·B⌋ clamped to [0, B) of the fractional mean d = m − offset (a float32 tensor;
    NaN → 0). The definition every ``ops.entropy_params`` backend reproduces bit for bit."""
    B = float(buckets)
    b = torch.floor((d + 0.5) * B)
    b = torch.where(b > B - 1, B - 1, b)
    return torch.where(b >= 0, b, 0.0).to(torch.int32)          # NaN fails both tests -> 0


LIKELIHOOD_FLOOR = 1e-9


def _phi(x):
    return 0.5 * torch.erfc(-x / math.sqrt(2.0))


def gaussian_bits(x: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """−log2 P(bin of width 1 around x) under N(mean, scale²); all in the same (Δ) units."""
    v = -(x - mean).abs()
    p = _phi((v + 0.5) / scale) - _phi((v - 0.5) / scale)
    return -torch.log2(p.clamp_min(LIKELIHOOD_FLOOR))
