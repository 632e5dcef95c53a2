"""Gaussian-conditional entropy parameters in one pass over the latent (docs/design.md §3.4.2).

Given the hyperprior's mean ``mu`` and scale ``scale`` (latent units), the importance
``level`` map with its ``delta_table`` (as :func:`rac_video.ops.quantize`) and the hashed
dither u of (``seed``, ``dither_frame``), per element with Δ = ``delta_table[level]``::

    m      = mu/Δ + u                         the mean in step units, dither included (float32)
    offset = floor(m + 1/2)                   int32 (clamped to ±2^30); the coded symbol is k − offset
    index  = searchsorted(SCALE_BOUNDS, scale/Δ, 'left')·B + bucket      int32 table index
             bucket = floor((m − offset + ½)·B) clamped to [0, B), NaN → 0, B = ``mean_buckets``
             (a power of two ≤ 256; the default 1 gives the scale-table index 0..63 alone; the
             codec uses entropy.MEAN_BUCKETS = 16 and codes with conditional_gaussian_tables())
    bits   = −log2 max(P(k), LIKELIHOOD_FLOOR)              float32, only when ``k`` is given
             P(k) = Φ((k − m + ½)/s') − Φ((k − m − ½)/s'),  s' = max(scale/Δ, SCALE_MIN)

``offset`` equals the codec's ``torch.floor(mu / delta + u + 0.5)`` (same float32 operations)
and, with ``index``, is bit-exact on every backend: the encoder and decoder may run on
different devices. ``bits`` (training losses, rate estimates) is within 2e-4 + 2e-5·bits of
the float64 likelihood of the same float32 m and s' (csrc/entropy_params.h says how each
backend evaluates it). Non-finite inputs are not checked (that would cost a pass and a device
sync) but give the same integers everywhere: m = NaN → offset −2^30, m = ±inf → ±2^30;
scale/Δ = NaN or +inf → the last index, −inf → 0; their bits are unspecified.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

from .. import _native
from . import _checks
from ._dispatch import Op
from ._gaussian import LIKELIHOOD_FLOOR, SCALE_BOUNDS, SCALE_MIN, gaussian_bits, mean_bucket
from .dither import hashed_dither_reference
from .quantize import _prepare

__all__ = ["entropy_params", "entropy_params_reference", "BITS_ATOL", "BITS_RTOL"]

_LIMIT = float(2**30)
BITS_ATOL, BITS_RTOL = 2e-4, 2e-5  # bits of every backend vs the float64 likelihood


@functools.lru_cache(maxsize=None)
def _bounds(device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(SCALE_BOUNDS, dtype=np.float32)).to(device)


def _check(mu, scale, level, delta_table, k, out, buckets, check_levels=False):
    if isinstance(buckets, bool) or not isinstance(buckets, int) or not 1 <= buckets <= 256 or buckets & (buckets - 1):
        raise ValueError(f"mean_buckets must be a power of two in 1..256, got {buckets!r}")
    mu, level, delta = _prepare(mu, "mu", torch.float32, level, delta_table, check_levels)
    scale = _checks.tensor(scale, "scale", torch.float32, mu.device)
    _checks.same_shape("mu", mu, "scale", scale)
    if k is not None:
        k = _checks.tensor(k, "k", torch.int32, mu.device)
        _checks.same_shape("mu", mu, "k", k)
    shape, dev = tuple(mu.shape), mu.device
    if out is None:
        outs = (torch.empty(shape, dtype=torch.int32, device=dev), torch.empty(shape, dtype=torch.int32, device=dev),
                None if k is None else torch.empty(shape, dtype=torch.float32, device=dev))
    else:
        if not isinstance(out, (tuple, list)) or len(out) != 3 or (out[2] is None) != (k is None):
            raise ValueError("out must be a tuple (offset, index, bits), bits None exactly when k is None")
        outs = tuple(out)
        for o, dt, name in zip(outs, (torch.int32, torch.int32, torch.float32), ("offset", "index", "bits")):
            if o is not None:
                _checks.output(o, shape, dt, dev, name=f"out {name}")
    return mu, scale, level, delta, k, outs


def entropy_params_reference(mu, scale, level, delta_table, seed: int, dither_frame: int = 0, *, k=None, out=None,
                             mean_buckets: int = 1):
    """(offset int32, index int32, bits float32 or None); see the module docstring."""
    mu, scale, level, delta, k, (o_off, o_idx, o_bits) = _check(mu, scale, level, delta_table, k, out, mean_buckets,
                                                                 check_levels=True)
    u = hashed_dither_reference(mu.shape, seed, dither_frame, device=mu.device)
    d = delta[level.long()].expand_as(mu)
    m = mu / d + u                                   # float32, exactly the codec's expression
    t = torch.floor(m + 0.5)
    t = torch.where(t > _LIMIT, _LIMIT, t)
    t = torch.where(t >= -_LIMIT, t, -_LIMIT)           # NaN -> -2^30, as every backend
    o_off.copy_(t)
    r = scale / d
    o_idx.copy_(torch.searchsorted(_bounds(str(mu.device)), r, right=False).to(torch.int32) * mean_buckets
                + mean_bucket(m - t, mean_buckets))      # float32 steps, as the kernels
    if k is None:
        return o_off, o_idx, None
    s = r.clamp_min(float(np.float32(SCALE_MIN)))  # in float32, as the kernels
    o_bits.copy_(gaussian_bits(k.double(), m.double(), s.double()))
    return o_off, o_idx, o_bits


entropy_params = Op("entropy_params", entropy_params_reference)


def _native_call(which, mu, scale, level, delta_table, seed, dither_frame, k, out, buckets):
    mu, scale, level, delta, k, (o_off, o_idx, o_bits) = _check(mu, scale, level, delta_table, k, out, buckets)
    N, C, H, W = mu.shape
    seed, dither_frame = _checks.uint32(seed, "seed"), _checks.uint32(dither_frame, "dither_frame")
    bounds = _bounds(str(mu.device))
    smin, floor_p = float(np.float32(SCALE_MIN)), float(np.float32(LIKELIHOOD_FLOOR))
    if which == "triton":
        from rac_video.kernels import entropy_params as kep

        kep.run(mu, scale, level, delta, bounds, k, o_off, o_idx, o_bits, N, C, H, W, level.shape[1], seed,
                dither_frame, smin, floor_p, buckets)
        return o_off, o_idx, o_bits
    args = (mu.data_ptr(), scale.data_ptr(), level.data_ptr(), delta.data_ptr(), delta.numel(), bounds.data_ptr(),
            bounds.numel(), 0 if k is None else k.data_ptr(), o_off.data_ptr(), o_idx.data_ptr(),
            0 if o_bits is None else o_bits.data_ptr(), N, C, H, W, level.shape[1], seed, dither_frame, smin, floor_p,
            buckets)
    if which == "cpu":
        _native.cpu_module()[0].entropy_params(*args)
    else:
        _native.cuda_runtime()[0].entropy_params(*args, *_checks.cuda_stream(mu.device))
    return o_off, o_idx, o_bits


for _b in ("cpu", "cuda", "triton"):
    entropy_params.register(_b)(
        lambda mu, scale, level, delta_table, seed, dither_frame=0, *, k=None, out=None, mean_buckets=1, _b=_b:
        _native_call(_b, mu, scale, level, delta_table, seed, dither_frame, k, out, mean_buckets))
