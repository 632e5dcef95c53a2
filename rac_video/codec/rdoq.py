"""Rate–distortion optimised quantization (RDOQ): the encoder's choice of the integer levels.

Universal quantization writes k = ⌊v + ½⌋ of v = y/Δ + u and the decoder reconstructs
ŷ = Δ·(k − u), so whatever k the encoder writes, the latent error in units of Δ is k − v. Every k
decodes; the nearest is the cheapest in distortion but not in bits when v lies far out in the tail of
the coding distribution. RDOQ moves each level one step at a time toward the distribution's centre
(the offset ⌊m + ½⌋ of the mean m = μ/Δ + u, where the symbol is 0) while the cost

    J(k) = bits(k) + α · (6 / ln 2) · (k − v)²

falls. bits(k) is the exact cost under the coder's integer tables (``CdfTables.symbol_bits``). The
constant 6 / ln 2 is −dR/dD of a uniform quantizer at high rate (D = Δ²/12 per element,
dD/dR = −2 ln 2 · D) in units of Δ², so α = 1 trades latent error against bits at each element's own
operating slope, and one α serves every quality and every importance level. α = 0 turns RDOQ off.

Only the encoder changes: the bitstream format, the decoder and the estimate (which prices the
symbols the encoder writes) are the same. The choice is a float comparison on the encoder's own
latent, like g_a itself, so it is not part of what both ends must agree on.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..entropy.models import GaussianConditional
from ..ops import _checks

__all__ = ["LAMBDA_PER_DELTA2", "MAX_MOVES", "check_alpha", "scaled_latent", "refine_levels"]

LAMBDA_PER_DELTA2 = 6.0 / math.log(2.0)
MAX_MOVES = 2        # steps toward the centre tried per element (the error grows quadratically)


def check_alpha(alpha) -> float:
    """α as a float; a clear error unless it is finite and >= 0."""
    return _checks.nonnegative(alpha, "RDOQ alpha")


def scaled_latent(y: torch.Tensor, level: torch.Tensor, delta: torch.Tensor, seed: int, frame: int) -> torch.Tensor:
    """v = y/Δ + u, the value the quantizer rounds (``GaussianConditional.scaled``)."""
    return GaussianConditional.scaled(y, level, delta, seed, frame)


def refine_levels(k: torch.Tensor, v: torch.Tensor, offset: torch.Tensor, index: torch.Tensor, tables,
                  alpha: float, where: torch.Tensor | None = None) -> torch.Tensor:
    """The levels after RDOQ: ``k`` (int32) moved toward ``offset`` while J falls; ``index`` is each
    element's table index in ``tables`` (anything with ``symbol_bits``: a ``GaussianConditional``); only elements where ``where`` (bool, broadcast) is True move."""
    alpha = check_alpha(alpha)
    if alpha == 0:
        return k
    lam = alpha * LAMBDA_PER_DELTA2
    kk = k.detach().cpu().numpy().astype(np.int64).ravel()
    vv = v.detach().cpu().double().numpy().ravel()
    off = offset.detach().cpu().numpy().astype(np.int64).ravel()
    ix = index.detach().cpu().numpy().ravel()
    live = np.ones_like(kk, dtype=bool) if where is None else where.expand_as(k).cpu().numpy().ravel().copy()
    for _ in range(MAX_MOVES):
        live &= kk != off
        pos = np.flatnonzero(live)
        if pos.size == 0:
            break
        k0, c = kk[pos], off[pos]
        k1 = k0 + np.sign(c - k0)
        j0 = tables.symbol_bits(k0 - c, ix[pos]) + lam * (k0 - vv[pos]) ** 2
        j1 = tables.symbol_bits(k1 - c, ix[pos]) + lam * (k1 - vv[pos]) ** 2
        better = j1 < j0
        kk[pos[better]] = k1[better]
        live[pos[~better]] = False
    return torch.from_numpy(kk.astype(np.int32)).view(k.shape).to(k.device)
