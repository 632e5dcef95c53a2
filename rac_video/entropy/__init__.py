"""Entropy coding (docs/design.md §3.4): scale table, integer CDF tables, the rANS coder, likelihoods.

* :data:`SCALE_TABLE` (float32, version :data:`SCALE_TABLE_VERSION`), :data:`SCALE_BOUNDS`,
  :data:`TAIL_MASS`, :data:`PRECISION`
* :func:`gaussian_tables` — cached zero-mean quantized-Gaussian tables, one per table scale;
  :meth:`CdfTables.from_pmfs` — tables for learned (factorized) priors
* :func:`encode` / :func:`decode` — the multi-lane, chunked rANS coder (C++/OpenMP);
  :class:`BitstreamError` for every malformed stream
* :func:`gaussian_bits` — differentiable −log2 P for training losses
* :class:`FactorizedPrior`, :class:`GaussianConditional` (``models``) — the entropy models the codec,
  training and tools use: tables, ``compress`` / ``decompress``, exact ``bits``, ``likelihood``
* ``intnet`` — exact integer entropy networks (device-independent (μ, s) and coding parameters)
"""
from .likelihood import LIKELIHOOD_FLOOR, gaussian_bits
from .rans import BitstreamError, decode, encode, stream_bits
from .models import FactorizedPrior, GaussianConditional, universal_quantize
from .tables import (MEAN_BUCKETS, conditional_gaussian_tables, mean_bucket, shifted_gaussian_pmf,
                     PRECISION, SCALE_BOUNDS, SCALE_MAX, SCALE_MIN, SCALE_TABLE, SCALE_TABLE_VERSION, TAIL_MASS,
                     CdfTables, factorized_gaussian_tables, gaussian_pmf, gaussian_tables, quantize_pmf,
                     scale_index_np)

__all__ = ["MEAN_BUCKETS", "conditional_gaussian_tables", "mean_bucket", "shifted_gaussian_pmf", "PRECISION", "SCALE_BOUNDS", "SCALE_MAX", "SCALE_MIN", "SCALE_TABLE", "SCALE_TABLE_VERSION", "TAIL_MASS",
           "CdfTables", "factorized_gaussian_tables", "gaussian_pmf", "gaussian_tables", "quantize_pmf", "scale_index_np", "BitstreamError", "encode", "decode", "stream_bits",
           "gaussian_bits", "LIKELIHOOD_FLOOR", "FactorizedPrior", "GaussianConditional", "universal_quantize"]
