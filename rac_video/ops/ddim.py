"""Elementwise DDIM update (η = 0) between per-element log-SNRs (docs/design.md §3.5.2).

    α = sqrt(sigmoid(γ)), σ = sqrt(sigmoid(−γ))
    x̂₀ = (z − σ_from·ε) / α_from
    z' = α_to·x̂₀ + σ_to·ε

``gamma_from`` / ``gamma_to`` are float32 maps of shape (N,1,H,W) (broadcast over channels) or
(N,C,H,W), one log-SNR per element, so every element moves from its own t to its own t′.
:func:`ddim_gammas` gives the proportional schedule t_k = t·(1 − k/K). Float output: every
backend agrees with the float64 evaluation of the formula to a few float32 ulps of
A·|z| + (σ_to + A·σ_from)·|ε|, A = α_to/α_from (see tests/test_ddim.py), for |γ| ≤ 80.

The C++/CUDA/Triton kernels evaluate the same update as z' = A·z + B·ε with
A = sqrt(1 + h_f²)/sqrt(1 + h_t²), B = (h_t − h_f)/sqrt(1 + h_t²), h = exp(−γ/2), computed inline
per element (csrc/vp_schedule.h explains why, and why not with an α/σ table); γ_from == γ_to
is then exactly the identity. ``out`` may be ``z`` (in place).
"""
from __future__ import annotations

import torch

from .. import _native
from . import _checks
from ._dispatch import Op

__all__ = ["ddim_step", "ddim_step_reference", "ddim_gammas"]


def _prepare(z, eps, gamma_from, gamma_to):
    z = _checks.tensor(z, "z", torch.float32)
    if z.dim() != 4:
        raise ValueError(f"z must be (N,C,H,W), got shape {tuple(z.shape)}")
    eps = _checks.tensor(eps, "eps", torch.float32, z.device)
    _checks.same_shape("z", z, "eps", eps)
    gf = _checks.side_map(gamma_from, "gamma_from", torch.float32, z, "z")
    gt = _checks.side_map(gamma_to, "gamma_to", torch.float32, z, "z")
    return z, eps, gf, gt


def ddim_step_reference(z, eps, gamma_from, gamma_to, *, out=None):
    z, eps, gf, gt = _prepare(z, eps, gamma_from, gamma_to)
    a_f, s_f = torch.sigmoid(gf).sqrt(), torch.sigmoid(-gf).sqrt()
    a_t, s_t = torch.sigmoid(gt).sqrt(), torch.sigmoid(-gt).sqrt()
    res = a_t * ((z - s_f * eps) / a_f) + s_t * eps
    if out is None:
        return res.contiguous()
    return _out(out, z).copy_(res)


def _out(out, z):
    return _checks.output(out, z.shape, torch.float32, z.device)


ddim_step = Op("ddim_step", ddim_step_reference)


def _native_call(which, z, eps, gamma_from, gamma_to, out):
    z, eps, gf, gt = _prepare(z, eps, gamma_from, gamma_to)
    out = _out(out, z)
    N, C, H, W = z.shape
    args = (z.data_ptr(), eps.data_ptr(), gf.data_ptr(), gt.data_ptr(), out.data_ptr(), N, C, H, W,
            gf.shape[1], gt.shape[1])
    if which == "cpu":
        _native.cpu_module()[0].ddim_step(*args)
    elif which == "cuda":
        _native.cuda_runtime()[0].ddim_step(*args, *_checks.cuda_stream(z.device))
    else:
        from rac_video.kernels import ddim as kd

        kd.ddim_step(z, eps, gf, gt, out, N, C, H, W, gf.shape[1], gt.shape[1])
    return out


for _b in ("cpu", "cuda", "triton"):
    ddim_step.register(_b)(lambda z, eps, gamma_from, gamma_to, *, out=None, _b=_b:
                           _native_call(_b, z, eps, gamma_from, gamma_to, out))


def ddim_gammas(gamma: torch.Tensor, steps: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(γ_from, γ_to) per step for t_k = t·(1 − k/K), t = t(γ) per element; the last γ_to is t = 0."""
    from .. import schedule

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    t = schedule.t_of_gamma(gamma)
    return [(schedule.gamma_of_t(t * (1 - k / steps)), schedule.gamma_of_t(t * (1 - (k + 1) / steps)))
            for k in range(steps)]
