"""Fixed scale table and deterministic integer CDF tables for the rANS coder (docs/design.md §3.4.2).

A table holds the frequencies (summing to 2^PRECISION, every symbol >= 1) of the values
``min_value … min_value+S-1`` followed by one **escape** symbol that carries everything
outside that support (the coder then sends the value itself with bypass bits). Tables are
built with float64 arithmetic that is identical on every IEEE platform (``math.erfc`` and
round-half-up of exact products), so encoder and decoder build the same integers; the
``fingerprint`` written into every stream catches any mismatch.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..ops._gaussian import (SCALE_BOUNDS, SCALE_LEVELS, SCALE_MAX, SCALE_MIN, SCALE_TABLE,  # noqa: F401
                             SCALE_TABLE_VERSION, MEAN_BUCKETS, mean_bucket)

__all__ = ["SCALE_TABLE", "SCALE_BOUNDS", "SCALE_TABLE_VERSION", "SCALE_MIN", "SCALE_MAX", "TAIL_MASS",
           "PRECISION", "CdfTables", "gaussian_tables", "factorized_gaussian_tables", "gaussian_pmf", "quantize_pmf",
           "scale_index_np", "MEAN_BUCKETS", "shifted_gaussian_pmf", "conditional_gaussian_tables", "mean_bucket"]

PRECISION = 16
TAIL_MASS = 1e-9
# the scale table (SCALE_TABLE, SCALE_BOUNDS, version 1) is defined in rac_video.ops._gaussian


def scale_index_np(r) -> np.ndarray:
    """Scale-table index of float32 scales ``r`` (already divided by Δ): comparisons only, so exact."""
    r = np.asarray(r, dtype=np.float32)
    return np.searchsorted(SCALE_BOUNDS, r, side="left").astype(np.int32)


def quantize_pmf(pmf: np.ndarray, escape: float) -> np.ndarray:
    """Integer frequencies (uint32, sum 2^PRECISION, all >= 1) for ``[pmf..., escape]``.

    Round half up of p·2^16, then the surplus or deficit is taken from / given to the largest
    frequencies (ties: lowest index) — deterministic integer steps after one exact float pass.
    """
    M = 1 << PRECISION
    q = np.concatenate([np.asarray(pmf, dtype=np.float64), [float(escape)]])
    if q.size > M:
        raise ValueError(f"a table can hold at most {M} symbols, got {q.size}")
    if not np.all(np.isfinite(q)) or np.any(q < 0):
        raise ValueError("pmf must be finite and non-negative")
    f = np.maximum(np.floor(q * M + 0.5), 1).astype(np.int64)
    diff = M - int(f.sum())
    if diff > 0:
        f[int(np.argmax(f))] += diff
    while diff < 0:
        order = np.argsort(-f, kind="stable")
        for i in order:
            take = min(int(f[i]) - 1, -diff)
            if take <= 0:
                break
            f[i] -= take
            diff += take
            if diff == 0:
                break
    return f.astype(np.uint32)


class CdfTables:
    """A set of integer CDF tables (escape last in each) plus the native coder's lookup structures."""

    def __init__(self, freqs: list[np.ndarray], min_values, *, version: str = "custom"):
        if len(freqs) == 0:
            raise ValueError("need at least one table")
        self.freqs = [np.ascontiguousarray(f, dtype=np.uint32) for f in freqs]
        self.min_values = np.asarray(min_values, dtype=np.int64)
        if self.min_values.shape != (len(self.freqs),):
            raise ValueError("min_values needs one entry per table")
        if np.any(np.abs(self.min_values) > 2**30):
            raise ValueError("min_values out of range")
        self.min_values = self.min_values.astype(np.int32)
        for t, f in enumerate(self.freqs):
            if f.ndim != 1 or f.size < 2 or int(f.sum()) != 1 << PRECISION or int(f.min()) < 1:
                raise ValueError(f"table {t}: need >= 2 frequencies (escape last), all >= 1, summing to 2^{PRECISION}")
        self.lengths = np.array([f.size for f in self.freqs], dtype=np.int32)
        self.version = version
        self.precision = PRECISION
        self._native = None
        self._flat = None          # (bits of every frequency, start of each table) for ideal_bits

    @classmethod
    def from_pmfs(cls, pmf, offsets, lengths=None, *, tail_mass: float = TAIL_MASS, version: str = "custom"):
        """Tables from float64 pmfs ``[T, S]`` (row t: P(value = offsets[t] + i)); optional per-row ``lengths``.

        The escape gets the missing mass ``1 − sum(row)`` (at least ``tail_mass``, and at least one
        frequency). Used by the codec for learned factorized priors (one table per channel).
        """
        pmf = np.asarray(pmf, dtype=np.float64)
        if pmf.ndim != 2 or pmf.shape[1] < 1:
            raise ValueError(f"pmf must be [T, S] with S >= 1, got shape {pmf.shape}")
        T, S = pmf.shape
        offsets = np.asarray(offsets, dtype=np.int64).reshape(-1)
        if offsets.shape != (T,):
            raise ValueError("offsets must have one entry per pmf row")
        lengths = np.full(T, S, np.int64) if lengths is None else np.asarray(lengths, dtype=np.int64).reshape(-1)
        if lengths.shape != (T,) or np.any(lengths < 1) or np.any(lengths > S):
            raise ValueError("lengths must be in [1, S], one per row")
        freqs = []
        for t in range(T):
            p = pmf[t, : lengths[t]]
            freqs.append(quantize_pmf(p, max(float(tail_mass), 1.0 - float(p.sum()))))
        return cls(freqs, offsets, version=version)

    # -- queries ---------------------------------------------------------------------------
    @property
    def num_tables(self) -> int:
        return len(self.freqs)

    def native(self):
        if self._native is None:
            from .. import _native

            mod, why = _native.cpu_module()
            if mod is None:
                raise RuntimeError(f"the rANS coder needs the C++ module: {why}")
            self._native = mod.RansTables(np.concatenate(self.freqs), self.lengths, self.min_values)
        return self._native

    @property
    def fingerprint(self) -> int:
        """32-bit hash of every table (written into each stream; decode refuses other tables)."""
        return int(self.native().fingerprint)

    def cdf(self, t: int) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.freqs[t], dtype=np.int64)]).astype(np.uint32)

    def ideal_bits(self, symbols, indexes) -> float:
        """Information content under these integer tables (escape fields included), in bits."""
        return float(np.sum(self.symbol_bits(symbols, indexes)))

    def symbol_bits(self, symbols, indexes) -> np.ndarray:
        """Information content of each symbol (flattened, float64 bits; an escaped symbol costs the
        escape's frequency plus its Elias-gamma field, as the coder writes it)."""
        s = np.asarray(symbols, dtype=np.int64).reshape(-1)
        ix = np.asarray(indexes, dtype=np.int64).reshape(-1)
        lo = self.min_values.astype(np.int64)[ix]
        hi = lo + self.lengths.astype(np.int64)[ix] - 2
        esc = (s < lo) | (s > hi)
        if self._flat is None:     # built once: rate control calls this for every candidate quality
            self._flat = (PRECISION - np.log2(np.concatenate(self.freqs).astype(np.float64)),
                          np.concatenate([[0], np.cumsum(self.lengths.astype(np.int64))[:-1]]))
        flat_bits, start = self._flat
        bits = flat_bits[start[ix] + np.where(esc, self.lengths.astype(np.int64)[ix] - 1, s - lo)]
        if esc.any():
            se, le, he = s[esc], lo[esc], hi[esc]
            o = np.where(se > he, 2 * (se - he - 1), 2 * (le - 1 - se) + 1)
            bits[esc] += 6 + np.floor(np.log2((o + 1).astype(np.float64)))
        return bits


def gaussian_pmf(scale: float) -> tuple[np.ndarray, int]:
    """P(v) = Φ((v+½)/s) − Φ((v−½)/s) for v in [−R, R], R = ceil(s·Φ⁻¹(1 − TAIL_MASS/2))."""
    mult = 6.109410204869  # -Φ⁻¹(TAIL_MASS / 2) for TAIL_MASS = 1e-9
    R = max(1, int(math.ceil(scale * mult)))
    q = lambda x: 0.5 * math.erfc(x / (scale * math.sqrt(2.0)))  # noqa: E731  upper tail Q(x/s)
    half = np.array([q(v - 0.5) - q(v + 0.5) for v in range(0, R + 1)], dtype=np.float64)
    half[0] = 1.0 - 2.0 * q(0.5)
    return np.concatenate([half[:0:-1], half]), -R


def _tables(pmfs, version: str) -> CdfTables:
    """CdfTables from ``(pmf, min_value)`` pairs; each escape gets the missing mass (≥ TAIL_MASS)."""
    freqs, mins = [], []
    for p, lo in pmfs:
        freqs.append(quantize_pmf(p, max(TAIL_MASS, 1.0 - float(p.sum()))))
        mins.append(lo)
    return CdfTables(freqs, mins, version=version)


@functools.lru_cache(maxsize=None)
def gaussian_tables() -> CdfTables:
    """Zero-mean quantized-Gaussian tables, one per SCALE_TABLE entry (cached)."""
    return _tables((gaussian_pmf(float(s)) for s in SCALE_TABLE.astype(np.float64)), f"gaussian-v{SCALE_TABLE_VERSION}")


def factorized_gaussian_tables(scales) -> CdfTables:
    """One zero-mean quantized-Gaussian table per entry of ``scales`` (float64; the codec's
    per-channel hyper-latent prior). Both ends build it from the same weights, so the same integers."""
    scales = np.asarray(scales, dtype=np.float64).reshape(-1)
    if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales <= 0) or np.any(scales > 1e4):
        raise ValueError("scales must be finite, positive and at most 1e4")
    return _tables((gaussian_pmf(float(s)) for s in scales), "factorized-gaussian")


# --- mean-position buckets ------------------------------------------------------------------
# The coded symbol is v = k − offset with offset = ⌊m + ½⌋, so v is centred on d = m − offset ∈ [−½, ½),
# not on 0. At small scales (low-importance latents, where Δ is large) a zero-mean table prices
# d ≈ ±½ badly (a near-certain symbol costs many bits). The codec's tables are therefore indexed
# by (scale, bucket of d): MEAN_BUCKETS tables per scale, each centred on its bucket's midpoint.


def shifted_gaussian_pmf(scale: float, shift: float) -> tuple[np.ndarray, int]:
    """P(v) = Φ((v+½−shift)/s) − Φ((v−½−shift)/s) for v in [−R, R] (|shift| ≤ ½), tails excluded."""
    mult = 6.109410204869
    R = max(1, int(math.ceil(scale * mult + abs(shift))))
    c = 1.0 / (scale * math.sqrt(2.0))
    p = np.array([0.5 * (math.erfc((v - 0.5 - shift) * c) - math.erfc((v + 0.5 - shift) * c)) for v in range(-R, R + 1)],
                 dtype=np.float64)
    return np.maximum(p, 0.0), -R


@functools.lru_cache(maxsize=None)
def conditional_gaussian_tables() -> CdfTables:
    """Quantized-Gaussian tables for (scale-table index i, mean bucket b), table number i·B + b (cached)."""
    return _tables((shifted_gaussian_pmf(float(s), (b + 0.5) / MEAN_BUCKETS - 0.5)
                    for s in SCALE_TABLE.astype(np.float64) for b in range(MEAN_BUCKETS)),
                   f"gaussian-v{SCALE_TABLE_VERSION}-mean{MEAN_BUCKETS}")
