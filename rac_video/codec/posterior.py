"""Posterior fusion: the decoder's last step, combining what it knows about each latent element.

After decoding, the decoder holds three pieces of evidence about an element y:

1. the quantization bin. Universal quantization bounds the error: y ∈ B = [ŷ − Δ/2, ŷ + Δ/2]
   exactly, since k = ⌊y/Δ + u + ½⌋ and ŷ = Δ·(k − u);
2. the entropy model's belief y ~ N(μ, s²), the very Gaussian the symbol was coded with (the
   hyperprior's, refined by the checkerboard context where there is one);
3. the denoiser's estimate ỹ from ŷ and its neighbourhood; the denoiser never sees (μ, s), so this
   is largely independent evidence. Its error is modelled as Gaussian with variance c·Δ².

Treating 2 and 3 as independent Gaussian evidence gives N(m, v) with 1/v = 1/s² + 1/(cΔ²) and
m = v·(μ/s² + ỹ/(cΔ²)); the estimate is the mean of that Gaussian truncated to B (docs/design.md §3.5.2 keeps ŷ
and the denoiser; this adds the bin and the entropy model's Gaussian the decoder already has).
At low rates, where Δ ≫ s for many elements, the entropy model's mean is a far better guess than
the bin's centre, and the denoiser alone cannot know it; at high rates B is narrow and nothing
changes. c is a per-model constant measured on Kodak (``tools/tune_encoder.py --fusion``), kept in
the model's record: the same file decodes the same way with the same model.

Not used with RDOQ (rac_video.codec.rdoq) by default: a level RDOQ moved leaves y outside B.
"""
from __future__ import annotations

import math

import torch

from ..ops import _checks

__all__ = ["check_fusion", "truncated_normal_mean", "truncated_normal_sample", "fuse_posterior", "sample_posterior"]

_TINY = 1e-300


def check_fusion(c) -> float:
    """c as a float: 0 (off) or finite and > 0; a clear error otherwise."""
    return _checks.nonnegative(c, "posterior fusion c")


def _phi(x):
    return torch.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))


def _Phi(x):
    return 0.5 * torch.erfc(-x * (1.0 / math.sqrt(2.0)))


def _lower_tail_ratio(a, b):
    """(φ(a) − φ(b)) / (Φ(b) − Φ(a)) for a < b with a + b ≤ 0 (the interval's mass mostly below 0).
    When b < 0 both Φ may underflow; there the common factor e^(−b²/2) is taken out with the scaled
    complementary error function erfcx, which stays exact arbitrarily far out in the tail."""
    direct = (_phi(a) - _phi(b)) / (_Phi(b) - _Phi(a)).clamp_min(_TINY)
    e = torch.exp(-0.5 * (a - b) * (a + b))                      # e^(−(a² − b²)/2) ≤ 1 here
    r2 = 1.0 / math.sqrt(2.0)
    den = torch.special.erfcx(-b * r2) - torch.special.erfcx(-a * r2) * e
    scaled = math.sqrt(2.0 / math.pi) * (e - 1.0) / den.clamp_min(_TINY)
    return torch.where(b < 0, scaled, direct)


def truncated_normal_mean(m, sd, lo, hi):
    """E[Y | lo ≤ Y ≤ hi] for Y ~ N(m, sd²), elementwise, in float64. The interval is mirrored to
    the lower side of m and the far tail is handled with erfcx, so there is no cancellation or
    underflow; the result is clamped into [lo, hi] (rounding only)."""
    m, sd, lo, hi = (t.double() for t in (m, sd, lo, hi))
    a, b = (lo - m) / sd, (hi - m) / sd
    flip = (a + b) > 0
    r = _lower_tail_ratio(torch.where(flip, -b, a), torch.where(flip, -a, b))
    return (m + sd * torch.where(flip, -r, r)).clamp(lo, hi)


def truncated_normal_sample(m, sd, lo, hi, u):
    """A draw from N(m, sd²) restricted to [lo, hi] by the inverse CDF at uniform ``u`` ∈ (0, 1), in float64.
    The interval is mirrored to the lower side of m (as in :func:`truncated_normal_mean`) so the CDF
    values stay away from 1; intervals whose probability mass underflows return their mean."""
    m, sd, lo, hi, u = (t.double() for t in (m, sd, lo, hi, u))
    a, b = (lo - m) / sd, (hi - m) / sd
    flip = (a + b) > 0
    a2, b2 = torch.where(flip, -b, a), torch.where(flip, -a, b)
    pa, pb = _Phi(a2), _Phi(b2)
    p = (pa + (pb - pa) * u).clamp(1e-300, 1 - 1e-16)
    x = math.sqrt(2.0) * torch.special.erfinv(2 * p - 1)
    x = torch.where(flip, -x, x)
    ok = (pb - pa) > 1e-12
    out = torch.where(ok, m + sd * x, truncated_normal_mean(m, sd, lo, hi))
    return out.clamp(lo, hi)


def _posterior(y_den, y_hat, mu, scale, delta, c):
    """(m, sd, lo, hi) of the fused Gaussian and the bin, in float64 (c = 0: the entropy model's Gaussian alone)."""
    y_den64, y_hat64, mu64, scale64 = (t.double() for t in (y_den, y_hat, mu, scale))
    delta64 = delta.double().expand_as(y_hat64)
    prec_s = 1.0 / (scale64 * scale64)
    if c == 0:
        v, m = 1.0 / prec_s, mu64
    else:
        prec_d = 1.0 / (c * delta64 * delta64)
        v = 1.0 / (prec_d + prec_s)
        m = v * (prec_d * y_den64 + prec_s * mu64)
    return m, v.sqrt(), y_hat64 - 0.5 * delta64, y_hat64 + 0.5 * delta64


def sample_posterior(y0, y_den, y_hat, mu, scale, delta, c: float, weight, generator=None) -> torch.Tensor:
    """The realism half of the posterior step (docs/design.md §3.5.5): ``y0`` (the fidelity estimate,
    :func:`fuse_posterior`'s output) moved towards a random draw from the same posterior — the fused
    Gaussian restricted to the quantization bin — by the per-element ``weight`` w ∈ [0, 1]:
    y = y0 + w·(draw − posterior mean). w = 0 leaves y0 unchanged; w = 1 gives a posterior sample with the
    spread the entropy model believes in (the texture the bits did not pay for). The uniforms are drawn on
    the CPU from ``generator`` so every device draws the same numbers. Returned in the dtype of ``y0``."""
    c = check_fusion(c)
    m, sd, lo, hi = _posterior(y_den, y_hat, mu, scale, delta, c)
    u = torch.rand(y0.shape, generator=generator, dtype=torch.float64).to(y0.device)
    draw = truncated_normal_sample(m, sd, lo, hi, u)
    mean = truncated_normal_mean(m, sd, lo, hi)
    return (y0.double() + weight.double() * (draw - mean)).to(y0.dtype)


def fuse_posterior(y_den, y_hat, mu, scale, delta, c: float) -> torch.Tensor:
    """The fused estimate of every latent element (computed in float64, returned in the dtype of
    ``y_hat``): ``y_den`` the denoiser's output, ``y_hat`` the dequantized latent, (``mu``, ``scale``)
    the entropy model's Gaussian, ``delta`` the step Δ (broadcast), ``c`` the denoiser's error
    variance in units of Δ² (0: ``y_den`` unchanged)."""
    c = check_fusion(c)
    if c == 0:
        return y_den
    m, sd, lo, hi = _posterior(y_den, y_hat, mu, scale, delta, c)
    return truncated_normal_mean(m, sd, lo, hi).to(y_hat.dtype)
