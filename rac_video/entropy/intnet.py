"""Exact integer networks for everything that decides a symbol (Ballé, Johnston & Minnen, ICLR 2019).

The hyperprior synthesis h_s and the checkerboard context run here in integers only, so encoder and
decoder compute the same (μ, s) on every device, thread count and instruction set. A layer is

    acc = int_conv2d(x, W, b)                              int8 activations, int8 weights, int32 sum (exact)
    p   = clamp((acc·M[o] + 2^(S−1)) >> S, −P, P − 1)      per-channel requantization (int64)
    a   = LUT[p + P]                                       the nonlinearity (GELU) as a table → int8

and the last layer of each network instead writes fixed-point outputs: μ in units of 2^−12 latent
units and the scale as λ = round(256·ln s) (through a table from the pre-softplus output). Every
table and multiplier is an integer stored with the model. The conditioning [t(γ), ℓ/(L−1)] is an
integer table per (quality, level); the context reads the decoded anchors as round(16·ŷ) computed
from k, the 24-bit dither and a fixed-point Δ.

From (μ, λ) the coding parameters follow in integers too (:func:`coding_params`): with
invΔ = round(2^32/Δ) and the dither u = u24·2^−24 − ½,

    m·2^44 = μ·invΔ + u24·2^20 − 2^43,   offset = ⌊m + ½⌋,   bucket = ⌊(m − offset + ½)·B⌋,
    scale index = searchsorted(SCALE_BOUNDS, e^{λ/256}/Δ)  (a table over (level, λ) per quality).

The float networks become integer ones by quantization-aware fine-tuning (:class:`QHyperSynthesis`,
:class:`QContext`: the same arithmetic emulated in float with straight-through rounding) and
:func:`freeze`. ``rac-video train --stage 2q`` runs it.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import ops, schedule
from .tables import SCALE_BOUNDS

__all__ = ["MU_BITS", "LAMBDA_MIN", "LAMBDA_MAX", "IntNet", "QHyperSynthesis", "QContext", "freeze",
           "coding_params", "integer_condition", "anchors16", "INTNET_VERSION"]

INTNET_VERSION = 1
A_MAX = 127                 # activations are int8
P = 4096                    # pre-activation table half-width (13-bit index)
SHIFT = 30                  # requantization multipliers are M·2^−30
MU_BITS = 12                # μ in units of 2^−12
MU_LIMIT = 2**20            # |μ| < 256 latent units
RAW_MIN, RAW_MAX = -12 * 256, 20 * 256       # the pre-softplus scale output, units of 1/256
SCALE_FLOOR = 0.01
LAMBDA_MIN = int(math.floor(256 * math.log(SCALE_FLOOR)))     # λ = round(256·ln s)
LAMBDA_MAX = int(math.ceil(256 * math.log(256.0)))
ANCHOR_SCALE = 16           # the context reads round(16·ŷ), round(16·μ), round(16·ln s)


def _ste(x: torch.Tensor) -> torch.Tensor:
    """round with a straight-through gradient."""
    return x + (torch.round(x) - x).detach()


def _clamp_ste(x, lo, hi):
    return x + (x.clamp(lo, hi) - x).detach()


# ----------------------------------------------------------------------------------------- QAT layers
class QConv(nn.Module):
    """A float conv trained as the integer layer it freezes into (module docstring)."""

    def __init__(self, conv: nn.Conv2d, in_scale, act: bool, out_grid=None):
        super().__init__()
        self.conv = conv
        self.stride, self.padding = conv.stride[0], conv.padding[0]
        self.register_buffer("s_in", torch.as_tensor(in_scale, dtype=torch.float32).reshape(-1).expand(
            conv.in_channels).clone())
        self.act = act
        self.register_buffer("s_p", torch.ones(()))       # pre-activation step (calibrated)
        self.register_buffer("s_out", torch.ones(()))     # activation step (calibrated)
        # last layers: the fixed-point grid of each output channel
        self.register_buffer("grid", torch.ones(conv.out_channels) if out_grid is None
                             else torch.as_tensor(out_grid, dtype=torch.float32))

    def weight_q(self):
        w = self.conv.weight * self.s_in.view(1, -1, 1, 1)
        s_w = (w.detach().abs().amax((1, 2, 3)) / A_MAX).clamp_min(1e-12)
        wq = _clamp_ste(_ste(w / s_w.view(-1, 1, 1, 1)), -A_MAX, A_MAX)
        bq = _ste(self.conv.bias / s_w)
        return wq, bq, s_w

    def pre(self, xq):
        """The real-valued pre-activation the integer layer computes (up to its requantization)."""
        wq, bq, s_w = self.weight_q()
        return F.conv2d(xq, wq, bq, self.stride, self.padding) * s_w.view(1, -1, 1, 1)

    def forward(self, xq):
        pre = self.pre(xq)
        if not self.act:
            return _ste(pre / self.grid.view(1, -1, 1, 1))                 # fixed-point outputs
        p = _clamp_ste(_ste(pre / self.s_p), -P, P - 1)
        return _clamp_ste(_ste(F.gelu(p * self.s_p) / self.s_out), -A_MAX, A_MAX)

    @torch.no_grad()
    def calibrate(self, xq, quantile: float = 0.9999):
        pre = self.pre(xq)
        if self.act:
            a = pre.abs().flatten()
            a = a[torch.randperm(a.numel())[:1_000_000]] if a.numel() > 1_000_000 else a
            self.s_p.fill_(float(torch.quantile(a, quantile).clamp_min(1e-6)) / (P - 1))
            g = F.gelu(pre).abs().flatten()
            g = g[torch.randperm(g.numel())[:1_000_000]] if g.numel() > 1_000_000 else g
            self.s_out.fill_(float(torch.quantile(g, quantile).clamp_min(1e-6)) / A_MAX)
        return self(xq)

    @torch.no_grad()
    def freeze(self) -> dict:
        wq, bq, s_w = self.weight_q()
        out = {"weight": wq.round().to(torch.int8), "bias": bq.round().to(torch.int32),
               "stride": torch.tensor(self.stride), "padding": torch.tensor(self.padding)}
        s_w = s_w.double()
        if self.act:
            out["mult"] = torch.round(s_w * 2.0**SHIFT / float(self.s_p)).to(torch.int64)
            grid = (torch.arange(2 * P, dtype=torch.float64) - P) * float(self.s_p)
            out["lut"] = torch.round(F.gelu(grid) / float(self.s_out)).clamp(-A_MAX, A_MAX).to(torch.int8)
        else:
            out["mult"] = torch.round(s_w * 2.0**SHIFT / self.grid.double()).to(torch.int64)
        return out


def _lambda_of_raw(raw: torch.Tensor) -> torch.Tensor:
    """λ = round(256·ln(softplus(raw) + floor)) for raw in units of 1/256 (float64 math)."""
    r = raw.double() / 256.0
    return torch.round(256.0 * torch.log(F.softplus(r) + SCALE_FLOOR))


@functools.lru_cache(maxsize=None)
def lambda_table() -> torch.Tensor:
    """int32 λ of every integer pre-softplus output RAW_MIN..RAW_MAX."""
    return _lambda_of_raw(torch.arange(RAW_MIN, RAW_MAX + 1, dtype=torch.float64)).to(torch.int32)


class QHyperSynthesis(nn.Module):
    """h_s of a float HyperPrior (rac_video.codec.hyperprior) as integer-trainable layers."""

    def __init__(self, hyper):
        super().__init__()
        up, hs = hyper.h_s_up, hyper.h_s
        width = hs[0].in_channels - 2
        C = hs[-1].out_channels // 2
        self.latent_channels, self.width = C, width
        self.up1 = QConv(up[0], 1.0, True)
        self.up2 = QConv(up[3], 1.0, True)                          # s_in set after calibration
        self.h1 = QConv(hs[0], 1.0, True)
        self.h2 = QConv(hs[2], 1.0, True)
        grid = torch.cat([torch.full((C,), 2.0**-MU_BITS), torch.full((C,), 1 / 256.0)])
        self.h3 = QConv(hs[4], 1.0, False, out_grid=grid)

    def _chain(self, z_int, cond_int, calibrate=False):
        f = (lambda m, x: m.calibrate(x)) if calibrate else (lambda m, x: m(x))
        h = F.pixel_shuffle(f(self.up1, z_int), 2)
        if calibrate:
            self.up2.s_in.fill_(float(self.up1.s_out))
        h = F.pixel_shuffle(f(self.up2, h), 2)[..., :cond_int.shape[-2], :cond_int.shape[-1]]
        if calibrate:
            self.h1.s_in.copy_(torch.cat([torch.full((self.width,), float(self.up2.s_out)),
                                          torch.full((2,), 1.0 / A_MAX)]))
        h = f(self.h1, torch.cat([h, cond_int], 1))
        if calibrate:
            self.h2.s_in.fill_(float(self.h1.s_out))
        h = f(self.h2, h)
        if calibrate:
            self.h3.s_in.fill_(float(self.h2.s_out))
        out = f(self.h3, h)
        C = self.latent_channels
        mu = _clamp_ste(out[:, :C], -MU_LIMIT, MU_LIMIT)
        raw = _clamp_ste(out[:, C:], RAW_MIN, RAW_MAX)
        # forward: the integer table's λ; backward: the smooth 256·ln(softplus(raw/256) + floor)
        smooth = 256.0 * torch.log(F.softplus(raw / 256.0) + SCALE_FLOOR)
        return mu, smooth + (_lambda_of_raw(raw.detach()).float() - smooth).detach()

    def forward(self, z_int, cond_int):
        """(μ in 2^−12 units, λ = 256·ln s), integer-valued floats with straight-through gradients."""
        return self._chain(z_int, cond_int)

    @torch.no_grad()
    def calibrate(self, z_int, cond_int):
        return self._chain(z_int, cond_int, calibrate=True)

    def freeze(self):
        return {"up1": self.up1.freeze(), "up2": self.up2.freeze(), "h1": self.h1.freeze(), "h2": self.h2.freeze(),
                "h3": self.h3.freeze()}


class QContext(nn.Module):
    """The checkerboard context (rac_video.codec.context) as integer-trainable layers."""

    def __init__(self, context):
        super().__init__()
        net = context.net
        C = net[-1].out_channels // 2
        self.latent_channels = C
        s_in = torch.cat([torch.full((3 * C,), 1.0 / ANCHOR_SCALE), torch.full((2,), 1.0 / A_MAX)])
        self.c1 = QConv(net[0], s_in, True)
        self.c2 = QConv(net[2], 1.0, True)
        grid = torch.cat([torch.full((C,), 2.0**-MU_BITS), torch.full((C,), 1 / 256.0)])
        self.c3 = QConv(net[4], 1.0, False, out_grid=grid)

    @staticmethod
    def inputs(y16, mu, lam, cond_int, anchor):
        """The first layer's integer input: [round(16·ŷ) at anchors (0 elsewhere), round(16·μ), round(λ/16), cond]."""
        seen = torch.where(anchor, y16, torch.zeros((), dtype=y16.dtype, device=y16.device))
        m16 = _clamp_ste(_ste(mu * (ANCHOR_SCALE * 2.0**-MU_BITS)), -A_MAX, A_MAX)
        l16 = _clamp_ste(_ste(lam / 16.0), -A_MAX, A_MAX)
        return torch.cat([seen, m16, l16, cond_int], 1)

    def _chain(self, x, mu, lam, anchor, calibrate=False):
        f = (lambda m, v: m.calibrate(v)) if calibrate else (lambda m, v: m(v))
        h = f(self.c1, x)
        if calibrate:
            self.c2.s_in.fill_(float(self.c1.s_out))
        h = f(self.c2, h)
        if calibrate:
            self.c3.s_in.fill_(float(self.c2.s_out))
        d = f(self.c3, h)
        C = self.latent_channels
        mu_c = _clamp_ste(mu + d[:, :C], -MU_LIMIT, MU_LIMIT)
        lam_c = _clamp_ste(lam + d[:, C:], LAMBDA_MIN, LAMBDA_MAX)
        return torch.where(anchor, mu, mu_c), torch.where(anchor, lam, lam_c)

    def forward(self, y16, mu, lam, cond_int, anchor):
        return self._chain(self.inputs(y16, mu, lam, cond_int, anchor), mu, lam, anchor)

    @torch.no_grad()
    def calibrate(self, y16, mu, lam, cond_int, anchor):
        return self._chain(self.inputs(y16, mu, lam, cond_int, anchor), mu, lam, anchor, calibrate=True)

    def freeze(self):
        return {"c1": self.c1.freeze(), "c2": self.c2.freeze(), "c3": self.c3.freeze()}


# ----------------------------------------------------------------------------------------- integer inference
def _flatten(prefix, d, out):
    for k, v in d.items():
        if isinstance(v, dict):
            _flatten(f"{prefix}{k}.", v, out)
        else:
            out[f"{prefix}{k}"] = v
    return out


def freeze(qhyper: QHyperSynthesis, qcontext: QContext | None) -> dict:
    """The integer state dict ("intnet" in a model file): every layer's int8 weights, int32 biases,
    int64 multipliers and int8 activation tables, plus the λ table and the format version."""
    state = _flatten("h_s.", qhyper.freeze(), {})
    if qcontext is not None:
        _flatten("context.", qcontext.freeze(), state)
    state["lambda_table"] = lambda_table().clone()
    state["version"] = torch.tensor(INTNET_VERSION)
    return state


class IntLayer:
    def __init__(self, state: dict, prefix: str):
        g = lambda k: state[f"{prefix}{k}"]  # noqa: E731
        self.weight, self.bias, self.mult = g("weight"), g("bias"), g("mult")
        self.stride, self.padding = int(g("stride")), int(g("padding"))
        self.lut = state.get(f"{prefix}lut")
        if self.weight.dtype != torch.int8 or self.bias.dtype != torch.int32 or self.mult.dtype != torch.int64:
            raise ValueError(f"integer layer {prefix}: bad dtypes")
        fan_in = self.weight[0].numel()
        bound = A_MAX * 127 * fan_in + int(self.bias.abs().max())
        if bound >= ops.ACC_LIMIT:
            raise ValueError(f"integer layer {prefix}: the sum can reach {bound}, beyond int32")
        if int(self.mult.abs().max()) * bound >= 2**62:
            raise ValueError(f"integer layer {prefix}: requantization can overflow int64")

    def to(self, device):
        for k in ("weight", "bias", "mult", "lut"):
            if getattr(self, k) is not None:
                setattr(self, k, getattr(self, k).to(device))
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """int8 activations (hidden layers) or int32 fixed-point outputs (last layers)."""
        return ops.int_conv2d(x, self.weight, self.bias, self.stride, self.padding, mult=self.mult, shift=SHIFT,
                              lut=self.lut)


class IntNet:
    """The integer h_s and (optionally) context of a model file's "intnet" state."""

    def __init__(self, state: dict, device="cpu"):
        if int(state.get("version", -1)) != INTNET_VERSION:
            raise ValueError(f"integer network format {int(state.get('version', -1))}, this build reads "
                             f"{INTNET_VERSION}")
        self.device = torch.device(device)
        self.h = {k: IntLayer(state, f"h_s.{k}.").to(self.device) for k in ("up1", "up2", "h1", "h2", "h3")}
        self.has_context = "context.c1.weight" in state
        self.c = ({k: IntLayer(state, f"context.{k}.").to(self.device) for k in ("c1", "c2", "c3")}
                  if self.has_context else None)
        self.lambda_table = state["lambda_table"].to(self.device, torch.int64)
        self.latent_channels = self.h["h3"].weight.shape[0] // 2

    def synthesis(self, z_int: torch.Tensor, cond_int: torch.Tensor):
        """(μ int64 in 2^−12 units, λ int64) from ẑ (int) and the integer condition (int8, (N,2,h,w))."""
        z = z_int.clamp(-A_MAX, A_MAX).to(torch.int8)
        h = F.pixel_shuffle(self.h["up1"](z), 2)
        h = F.pixel_shuffle(self.h["up2"](h), 2)[..., :cond_int.shape[-2], :cond_int.shape[-1]]
        h = self.h["h1"](torch.cat([h, cond_int], 1))
        out = self.h["h3"](self.h["h2"](h)).to(torch.int64)
        C = self.latent_channels
        mu = out[:, :C].clamp(-MU_LIMIT, MU_LIMIT)
        lam = self.lambda_table[out[:, C:].clamp(RAW_MIN, RAW_MAX) - RAW_MIN]
        return mu, lam

    def context(self, y16: torch.Tensor, mu, lam, cond_int, anchor):
        """(μ, λ) refined at the non-anchors from round(16·ŷ) of the anchors (int64 in, int64 out)."""
        seen = torch.where(anchor, y16, torch.zeros((), dtype=y16.dtype, device=y16.device))
        m16 = ((mu * ANCHOR_SCALE + (1 << (MU_BITS - 1))) >> MU_BITS).clamp(-A_MAX, A_MAX)
        l16 = ((lam + 8) >> 4).clamp(-A_MAX, A_MAX)
        x = torch.cat([seen.clamp(-A_MAX, A_MAX), m16, l16, cond_int.to(torch.int64)], 1).to(torch.int8)
        d = self.c["c3"](self.c["c2"](self.c["c1"](x))).to(torch.int64)
        C = self.latent_channels
        mu_c = (mu + d[:, :C]).clamp(-MU_LIMIT, MU_LIMIT)
        lam_c = (lam + d[:, C:]).clamp(LAMBDA_MIN, LAMBDA_MAX)
        return torch.where(anchor, mu, mu_c), torch.where(anchor, lam, lam_c)



# ----------------------------------------------------------------------------------------- integer tables
@functools.lru_cache(maxsize=None)
def _quality_tables(quality: int, schedule_version: int, levels: int):
    """Per-level integer tables of one quality: cond (L, 2) int8, invΔ (L,) int64, Δ·16·2^16 (L,) int64,
    and the scale index of every (level, λ) (L, LAMBDA_MAX − LAMBDA_MIN + 1) int32 — float64 math once,
    then integers only."""
    tab = schedule.level_table(quality, levels, schedule_version)
    delta = tab.delta.double().numpy()
    t = schedule.t_of_gamma(tab.gamma.double()).numpy()
    cond = np.stack([np.round(np.clip(t, 0, 1) * A_MAX), np.round(np.arange(levels) * A_MAX / (levels - 1))], 1)
    inv = np.round(2.0**32 / delta).astype(np.int64)
    d16 = np.round(delta * ANCHOR_SCALE * 2.0**16).astype(np.int64)
    lam = np.arange(LAMBDA_MIN, LAMBDA_MAX + 1, dtype=np.float64)
    s = np.array([math.exp(v / 256.0) for v in lam])
    ratio = s[None, :] / delta[:, None]
    bounds = SCALE_BOUNDS.astype(np.float64)
    sidx = np.searchsorted(bounds, ratio.reshape(-1), side="left").reshape(ratio.shape).astype(np.int32)
    return (torch.from_numpy(cond.astype(np.int8)), torch.from_numpy(inv), torch.from_numpy(d16),
            torch.from_numpy(sidx))


@functools.lru_cache(maxsize=64)
def _device_tables(quality: int, schedule_version: int, levels: int, device: str):
    """The tables of :func:`_quality_tables` on ``device``: cond, invΔ, Δ16 and the flat scale-index table."""
    cond, inv, d16, sidx = _quality_tables(quality, schedule_version, levels)
    return cond.to(device), inv.to(device), d16.to(device), sidx.reshape(-1).to(device, torch.int64)


def integer_condition(level: torch.Tensor, quality: int, schedule_version: int, levels: int) -> torch.Tensor:
    """(N, 2, h, w) int8 [round(127·t(γ)), round(127·ℓ/(L−1))] of a level map (N, 1, h, w)."""
    cond = _device_tables(quality, schedule_version, levels, str(level.device))[0]
    return cond[level[:, 0].long()].permute(0, 3, 1, 2).contiguous()


@functools.lru_cache(maxsize=4)
def _dither_bits(shape: tuple, seed: int, dither_frame: int, device: str) -> torch.Tensor:
    return ops.hashed_dither(shape, seed, dither_frame, device=device, bits=True)


def dither_bits(shape, seed: int, dither_frame: int, device) -> torch.Tensor:
    """The 24-bit dither u·2^24 of every element (int32, ``ops.hashed_dither(bits=True)``), cached for the last
    few (shape, seed, frame, device): a P-frame's encoder prices ~20 candidate vector fields of one frame, each
    needing it several times. Shared: callers must not modify it in place."""
    return _dither_bits(tuple(int(n) for n in shape), int(seed), int(dither_frame), str(torch.device(device)))


def anchors16(k: torch.Tensor, level: torch.Tensor, quality: int, schedule_version: int, levels: int,
              seed: int, dither_frame: int) -> torch.Tensor:
    """round(16·ŷ) = round(16·Δ·(k − u)) in integers (int64, clamped to ±127) for the context's input."""
    d16 = _device_tables(quality, schedule_version, levels, str(k.device))[2][level.long()]   # on the level map
    u24 = dither_bits(k.shape, seed, dither_frame, k.device)
    num = (k.to(torch.int64).clamp(-1024, 1024) << 24) - u24 + (1 << 23)       # (k − u)·2^24
    return ((num * d16 + (1 << 39)) >> 40).clamp(-A_MAX, A_MAX)


def coding_params(mu: torch.Tensor, lam: torch.Tensor, level: torch.Tensor, quality: int, schedule_version: int,
                  levels: int, seed: int, dither_frame: int, mean_buckets: int):
    """(offset int32, table index int32) of every element from integer (μ, λ): see the module docstring."""
    if mean_buckets < 1 or mean_buckets > 256 or mean_buckets & (mean_buckets - 1):
        raise ValueError(f"mean_buckets must be a power of two in 1..256, got {mean_buckets}")
    _, inv, _, sidx = _device_tables(quality, schedule_version, levels, str(mu.device))
    lv = level.long()                                               # (N, 1, h, w): gathers on the small map
    u24 = dither_bits(mu.shape, seed, dither_frame, mu.device)
    t = mu * inv[lv] + (u24.to(torch.int64) << 20)                  # (m + ½)·2^44
    offset = t >> 44
    bucket = (t & ((1 << 44) - 1)) >> (44 - (mean_buckets.bit_length() - 1))
    scale = torch.take(sidx, lam + (lv * (LAMBDA_MAX - LAMBDA_MIN + 1) - LAMBDA_MIN))
    return offset.to(torch.int32), (scale * mean_buckets + bucket).to(torch.int32)
