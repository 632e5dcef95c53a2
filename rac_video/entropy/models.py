"""Entropy models: one object per coded variable, owning its tables, coding, exact bits and likelihood.

* :class:`FactorizedPrior` — the hyper-latent ẑ: one zero-mean quantized Gaussian per channel with
  a learned scale (the model's ``z_log_scale``).
* :class:`GaussianConditional` — the latent y given the entropy networks' (μ, s): universal
  quantization k = ⌊y/Δ + u + ½⌋ with the hashed dither u, symbols k − ⌊μ/Δ + u + ½⌋ coded with the
  quantized Gaussian of table index (scale, mean bucket). Its coding parameters come either from
  float (μ, s) through ``ops.entropy_params`` (models up to rac-tiny-v5: decodes where the float
  networks agree) or from the integer networks' (μ, λ) in integers only (:mod:`.intnet`).

Each has ``compress`` / ``decompress`` (bytes ↔ integer symbols, the rANS coder), ``bits`` (the
exact size of what ``compress`` writes, from the integer tables and the stream layout, without
coding) and ``likelihood`` (differentiable bits for training). The codec (``Codec.encode_frame``,
``decode_frame``, ``estimate_bits``), training, RDOQ and the tools all use these objects.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import ops
from ..profiling import stage
from . import intnet, rans
from .likelihood import gaussian_bits
from .tables import (MEAN_BUCKETS, SCALE_MIN, CdfTables, conditional_gaussian_tables,
                     factorized_gaussian_tables)

__all__ = ["FactorizedPrior", "GaussianConditional", "Z_SCALE_MIN", "universal_quantize"]

Z_SCALE_MIN = 0.05


def universal_quantize(y: torch.Tensor, delta: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """k = ⌊y/Δ + u + ½⌋ (float; the formula ``ops.quantize`` computes with the hashed dither), for
    training and analysis with any dither (e.g. a fresh random one per batch)."""
    return torch.floor(y / delta + u + 0.5)


class FactorizedPrior:
    """ẑ ~ ∏ quantized N(0, σ_c²), one table per channel. ``scales``: σ_c (float64)."""

    def __init__(self, scales):
        self.scales = np.asarray(scales, dtype=np.float64).reshape(-1)
        self.tables: CdfTables = factorized_gaussian_tables(self.scales)

    @staticmethod
    def scale(log_scale: torch.Tensor) -> torch.Tensor:
        """σ = max(e^{log σ}, Z_SCALE_MIN), differentiable (training) and the coder's (below)."""
        return log_scale.exp().clamp_min(Z_SCALE_MIN)

    @classmethod
    def from_log_scale(cls, log_scale: torch.Tensor) -> "FactorizedPrior":
        """The coder's prior from the model's per-channel log-scales, computed on the CPU in float32 as
        stored, then widened: the same float64 scales, hence the same integer tables, everywhere."""
        return cls(cls.scale(log_scale.detach().cpu().float()).double().numpy())

    @property
    def channels(self) -> int:
        return self.scales.size

    def indexes(self, shape) -> np.ndarray:
        """Table index of every element of a (N, Z, h, w) hyper-latent: its channel."""
        if len(shape) != 4 or shape[1] != self.channels:
            raise ValueError(f"hyper-latent must be (N, {self.channels}, h, w), got {tuple(shape)}")
        return np.ascontiguousarray(np.broadcast_to(np.arange(shape[1], dtype=np.int32).reshape(1, -1, 1, 1), shape))

    @stage("entropy coding")
    def compress(self, z_int) -> bytes:
        z = np.ascontiguousarray(np.asarray(z_int, dtype=np.int32))
        return rans.encode(z, self.indexes(z.shape), self.tables)

    @stage("entropy coding")
    def decompress(self, data: bytes, shape) -> np.ndarray:
        return rans.decode(data, self.indexes(tuple(shape)), self.tables)

    def bits(self, z_int) -> float:
        z = np.ascontiguousarray(np.asarray(z_int, dtype=np.int32))
        return float(rans.stream_bits(z, self.indexes(z.shape), self.tables))

    @classmethod
    def likelihood(cls, z_tilde: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
        """−log2 P(z̃) per element (differentiable; z̃ = z + uniform noise in training)."""
        return gaussian_bits(z_tilde, torch.zeros_like(z_tilde), cls.scale(log_scale).view(1, -1, 1, 1))


class GaussianConditional:
    """y given (μ, s): universal quantization and conditional quantized-Gaussian coding (module docstring)."""

    mean_buckets = MEAN_BUCKETS

    def __init__(self):
        self.tables: CdfTables = conditional_gaussian_tables()

    # -- quantization (ops: bit-exact on every backend)
    @staticmethod
    def quantize(y, level, delta_table, seed: int, dither_frame: int) -> torch.Tensor:
        return ops.quantize(y, level, delta_table, seed, dither_frame)

    @staticmethod
    def dequantize(k, level, delta_table, seed: int, dither_frame: int) -> torch.Tensor:
        return ops.dequantize(k, level, delta_table, seed, dither_frame)

    @staticmethod
    def scaled(y, level, delta_table, seed: int, dither_frame: int) -> torch.Tensor:
        """v = y/Δ + u, the value ``quantize`` rounds (float32, the same formula)."""
        u = ops.hashed_dither(tuple(y.shape), seed, dither_frame, device=y.device)
        return y / delta_table[level.long()].expand_as(y) + u

    # -- coding parameters
    def params(self, mu, s, level, delta_table, seed: int, dither_frame: int):
        """(offset, index) int32 from float (μ, s) (``ops.entropy_params``; the float networks' path)."""
        offset, index, _ = ops.entropy_params(mu, s, level, delta_table, seed, dither_frame,
                                              mean_buckets=self.mean_buckets)
        return offset, index

    def int_params(self, mu, lam, level, quality: int, schedule_version: int, levels: int, seed: int,
                   dither_frame: int):
        """(offset, index) int32 from the integer networks' (μ, λ), in integers only (``intnet.coding_params``)."""
        return intnet.coding_params(mu, lam, level, quality, schedule_version, levels, seed, dither_frame,
                                    self.mean_buckets)

    # -- coding
    @stage("entropy coding")
    def compress(self, symbols, indexes) -> bytes:
        return rans.encode(np.ascontiguousarray(symbols, dtype=np.int32),
                           np.ascontiguousarray(indexes, dtype=np.int32), self.tables)

    @stage("entropy coding")
    def decompress(self, data: bytes, indexes) -> np.ndarray:
        return rans.decode(data, np.ascontiguousarray(indexes, dtype=np.int32), self.tables)

    def bits(self, symbols, indexes) -> float:
        """Exact size in bits of ``compress(symbols, indexes)`` (tables and stream layout)."""
        return float(rans.stream_bits(np.ascontiguousarray(symbols, dtype=np.int32),
                                      np.ascontiguousarray(indexes, dtype=np.int32), self.tables))

    def symbol_bits(self, symbols, indexes) -> np.ndarray:
        """Information content of each symbol under the integer tables (RDOQ's rate term)."""
        return self.tables.symbol_bits(symbols, indexes)

    @staticmethod
    def likelihood(y_tilde: torch.Tensor, mu: torch.Tensor, s: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """−log2 P per element (differentiable) of y in units of Δ (y_tilde = y/Δ + noise) under N(μ, s²),
        the scale floored at the coder's smallest table scale."""
        return gaussian_bits(y_tilde, mu / delta, (s / delta).clamp_min(SCALE_MIN))

    @staticmethod
    def information(y: torch.Tensor, mu: torch.Tensor, s: torch.Tensor, delta: torch.Tensor, u: torch.Tensor,
                    floor: bool = True):
        """−log2 of the continuous model's mass of the coded bin: N(μ, s²) over [Δ(k − u) ± Δ/2] with
        k the universal quantization of y (float64; what the tables approximate, for overhead studies).
        ``floor``: s/Δ at least the smallest table scale, as in :meth:`likelihood` — the model the
        networks were trained as (below the floor their s/Δ never met a gradient)."""
        k = universal_quantize(y.double(), delta.double(), u.double())
        centre = (k - u.double()) - mu.double() / delta.double()
        sc = (s.double() / delta.double())
        if floor:
            sc = sc.clamp_min(float(SCALE_MIN))
        c = 1.0 / (sc * math.sqrt(2.0))
        v = -centre.abs()
        p = 0.5 * (torch.erfc(-(v + 0.5) * c) - torch.erfc(-(v - 0.5) * c))
        return -torch.log2(p.clamp_min(1e-300))
