"""The region-adaptive diffusion codec for one frame (docs/design.md §3).

encode:  x ─g_a→ y ; levels ─table(q)→ Δ, γ ; k = quantize(y, level, Δ, seed)
         z = h_a(y, cond) ; ẑ = round(z) coded with the factorized prior
         (μ, s) = h_s(ẑ, cond) ; symbol = k − round(μ/Δ + u), table index of s/Δ → rANS
decode:  the same (μ, s) from ẑ ; k = symbol + round(μ/Δ + u) ; ŷ = dequantize(k) ;
         z_t = α·ŷ is a diffusion sample at each element's own t ; K elementwise DDIM steps
         t_k = t·(1 − k/K) with the spatially varying denoiser ; for models with a posterior
         fusion constant c, ŷ₀ ← E[y | bin of ŷ, N(μ, s²), N(ŷ₀, cΔ²)] (rac_video.codec.posterior) ;
         x̂ = g_s(ŷ₀)

RDOQ (encoder only, rac_video.codec.rdoq) may move k toward round(μ/Δ + u) where bits saved
outweigh the error added; the default strength α is the model's (its record), 0 when absent.

With a checkerboard context (models trained with ``--context``, rac_video.codec.context) the
y symbols go in two streams: the anchors with the hyperprior's (μ, s), then the rest with (μ, s)
refined from the decoded anchors.

Models with integer entropy networks (rac-tiny-v6 on; ``rac_video.entropy.intnet``) compute h_s, the
context and the step from (μ, λ) to (offset, table index) in integers only, so their symbols are the
same on every device ("device-independent"); the generative half (denoiser, fusion, g_s) stays float.
``decode_levels`` is the entropy half of ``decode_frame`` (everything that decides symbols) and
``reconstruct`` the generative half.

cond = [t(γ), ℓ/(L−1)] at latent resolution. Frames of any size are padded (edge replicate) to
a multiple of PAD and cropped back; the level map covers ceil(H/8) × ceil(W/8) and is
edge-extended over the padding.

Payload layout (little-endian): u8 version, u8 steps K, u32 length of the ẑ stream, ẑ stream,
y stream (both rac_video.entropy streams). Version 3 (context models): u8 version, u8 K, u32 length
of the ẑ stream, u32 length of the anchor stream, ẑ stream, anchor stream, non-anchor stream.
Versions 4 and 5: the layouts of 2 and 3 for models with integer entropy networks.
"""
from __future__ import annotations

import contextlib
import struct

import numpy as np
import torch
import torch.nn.functional as F

from .. import ops, schedule
from ..entropy import intnet as _intnet
from ..entropy.models import FactorizedPrior, GaussianConditional
from ..entropy.rans import BitstreamError
from ..errors import CorruptStreamError
from . import inter as _inter
from . import rdoq as _rdoq
from .autoencoder import FACTOR, Analysis, Synthesis
from .context import CheckerboardContext, anchor_mask
from .denoiser import Denoiser, denoise
from .hyperprior import HYPER_FACTOR, HyperPrior
from .posterior import check_fusion, fuse_posterior
from .weights import DEFAULT_MODEL, ModelMismatchError, load_state

PAD = FACTOR * HYPER_FACTOR
PAYLOAD_VERSION = 2  # 2: y tables indexed by (scale, mean bucket)
CONTEXT_PAYLOAD_VERSION = 3  # 3: the y symbols in two checkerboard streams
INT_PAYLOAD_VERSION = 4  # 4: as 2, (μ, s) and the coding parameters from exact integer networks
INT_CONTEXT_PAYLOAD_VERSION = 5  # 5: as 3, with exact integer networks (hyperprior and context)
DEFAULT_STEPS = 2           # K for models whose record does not name one
MAX_STEPS = 64
_HDR = struct.Struct("<BBI")
_HDR3 = struct.Struct("<BBII")


class PayloadError(CorruptStreamError):
    """A frame payload that cannot be decoded."""


class Codec:
    """One loaded model. Thread-compatible (no state changes after construction)."""

    def __init__(self, name: str = DEFAULT_MODEL, *, device="cpu", steps: int | None = None,
                 rdoq: float | None = None, fusion: float | None = None):
        state, record = load_state(name)
        self.name, self.record = name, record
        self.weights_hash = record["sha256"]
        self.factor = FACTOR
        self.levels = schedule.DEFAULT_LEVELS
        self.schedule_version = int(record.get("schedule_version", 1))   # the q → γ ramp it was trained on
        if self.schedule_version not in schedule.RAMPS:
            raise ModelMismatchError(f"model {name} needs schedule version {self.schedule_version}, this build "
                                     f"knows {sorted(schedule.RAMPS)}: upgrade rac_video")
        self.device = torch.device(device)
        from .. import arith   # these networks decide symbols: full float32 on CUDA (TF32 off)
        arith.exact_float32(self.device)
        # the DDIM steps K the encoder writes by default: the model's (its record), else DEFAULT_STEPS
        self.steps = int(record.get("steps", DEFAULT_STEPS) if steps is None else steps)
        if not 0 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be in 0..{MAX_STEPS}, got {self.steps}")
        # the encoder's default RDOQ α (rac_video.codec.rdoq): the one measured for this model, in its record
        self.rdoq = _rdoq.check_alpha(record.get("rdoq", 0.0) if rdoq is None else rdoq)
        # the decoder's posterior fusion constant c (rac_video.codec.posterior; 0: off): part of the model,
        # from its record, so a file decodes the same way wherever its model does
        self.fusion = check_fusion(record.get("posterior_fusion", 0.0) if fusion is None else fusion)
        C = state["g_a"]["scale"].shape[1]
        self.g_a, self.g_s, self.denoiser, self.hyper = Analysis(C), Synthesis(C), Denoiser(C), HyperPrior(C)
        for key, mod in (("g_a", self.g_a), ("g_s", self.g_s), ("denoiser", self.denoiser), ("hyperprior", self.hyper)):
            mod.load_state_dict(state[key])
            mod.to(self.device).eval().requires_grad_(False)
        self.context = None
        if "context" in state:
            self.context = CheckerboardContext(C)
            self.context.load_state_dict(state["context"])
            self.context.to(self.device).eval().requires_grad_(False)
        # exact integer entropy networks (rac_video.entropy.intnet): device-independent bitstreams
        self.intnet = _intnet.IntNet(state["intnet"], self.device) if "intnet" in state else None
        # the integer temporal prior of P-frames (rac_video.codec.inter), for models that have one
        self.temporal = _inter.TemporalPrior(state["temporal"], self.device) if "temporal" in state else None
        self.latent_channels = C
        self.conditional = GaussianConditional()
        self._z_prior_cache = None

    @property
    def device_independent(self) -> bool:
        """True when everything that decides a symbol is integer (the model has integer entropy networks)."""
        return self.intnet is not None

    @property
    def has_context(self) -> bool:
        return self.context is not None if self.intnet is None else self.intnet.has_context

    @property
    def payload_version(self) -> int:
        """2 / 3 (float entropy networks, without / with the checkerboard context), 4 / 5 (integer ones)."""
        if self.intnet is not None:
            return INT_CONTEXT_PAYLOAD_VERSION if self.has_context else INT_PAYLOAD_VERSION
        return PAYLOAD_VERSION if self.context is None else CONTEXT_PAYLOAD_VERSION

    @property
    def _hdr(self) -> struct.Struct:
        return _HDR3 if self.has_context else _HDR

    # ------------------------------------------------------------------ geometry
    def latent_hw(self, height: int, width: int) -> tuple[int, int]:
        return -(-int(height) // FACTOR), -(-int(width) // FACTOR)

    def frame_tensor(self, frame) -> torch.Tensor:
        """uint8 RGB (H, W, 3) → the analysis transform's input on this codec's device (module ``frame_tensor``)."""
        return frame_tensor(frame, self.device)

    def level_map(self, levels_u8, height, width) -> torch.Tensor:
        """The (h, w) uint8 importance levels of a frame → the (1, 1, h', w') int32 level map the ops and
        networks take (checked, edge-extended over the padding to a multiple of PAD / 8)."""
        lv = np.asarray(levels_u8)
        want = self.latent_hw(height, width)
        if lv.shape != want:
            raise ValueError(f"levels must have shape {want} for a {width}x{height} frame, got {lv.shape}")
        if lv.dtype != np.uint8 or (lv.size and int(lv.max()) >= self.levels):
            raise ValueError(f"levels must be uint8 in 0..{self.levels - 1}")
        t = torch.from_numpy(np.array(lv, dtype=np.uint8)).to(self.device, torch.int32)[None, None]
        Hp, Wp = -(-height // PAD) * PAD // FACTOR, -(-width // PAD) * PAD // FACTOR
        return F.pad(t.float(), (0, Wp - want[1], 0, Hp - want[0]), mode="replicate").to(torch.int32)

    def level_table(self, quality: int) -> schedule.LevelTable:
        """Per-level γ / Δ tables for quality q under this model's schedule version."""
        return schedule.level_table(quality, self.levels, self.schedule_version)

    def condition(self, level, table):
        """(cond, γ) of a level map: cond = [t(γ), ℓ/(L−1)] (the float entropy networks' and the denoiser's
        conditioning), γ the per-element log-SNR."""
        gamma = table.gamma.to(self.device)[level.long()]
        return torch.cat([schedule.t_of_gamma(gamma), level.float() / (self.levels - 1)], dim=1), gamma

    # ------------------------------------------------------------------ entropy parameters (both ends)
    @property
    def z_prior(self) -> FactorizedPrior:
        """The factorized ẑ prior of the current hyperprior (cached per hyperprior, so an
        ``entropy_model`` swap prices ẑ with the swapped-in model's own prior)."""
        if self._z_prior_cache is None or self._z_prior_cache[0] is not self.hyper:
            self._z_prior_cache = (self.hyper, FactorizedPrior.from_log_scale(self.hyper.z_log_scale))
        return self._z_prior_cache[1]

    def hyper_params(self, z_hat, cond, level, quality: int, seed: int, frame_index: int):
        """The hyperprior's view of every element: (params, offset, index) with params (μ, s) as float
        tensors, or (μ, λ) as integers for integer networks; offset and index int32 (the coding parameters)."""
        if self.intnet is not None:
            cond_int = _intnet.integer_condition(level, quality, self.schedule_version, self.levels)
            prm = self.intnet.synthesis(z_hat.to(torch.int64), cond_int)
            return (prm, *self.conditional.int_params(*prm, level, quality, self.schedule_version, self.levels,
                                                      seed, frame_index))
        prm = self.hyper.synthesis(z_hat, cond)
        delta = self.level_table(quality).delta.to(self.device)
        return (prm, *self.conditional.params(*prm, level, delta, seed, frame_index))

    def context_params(self, prm, k, cond, level, quality: int, seed: int, frame_index: int):
        """(params, offset, index) refined by the checkerboard context from the anchors of the levels ``k``
        (the non-anchor values of ``k`` are never read)."""
        if self.intnet is not None:
            cond_int = _intnet.integer_condition(level, quality, self.schedule_version, self.levels)
            y16 = _intnet.anchors16(k, level, quality, self.schedule_version, self.levels, seed, frame_index)
            prm = self.intnet.context(y16, *prm, cond_int, anchor_mask(*k.shape[-2:], self.device))
            return (prm, *self.conditional.int_params(*prm, level, quality, self.schedule_version, self.levels,
                                                      seed, frame_index))
        delta = self.level_table(quality).delta.to(self.device)
        prm = self.context(self.conditional.dequantize(k, level, delta, seed, frame_index), *prm, cond)
        return (prm, *self.conditional.params(*prm, level, delta, seed, frame_index))

    def gaussian_params(self, prm):
        """Float (μ, s) in latent units of a params pair (integer networks: μ·2^−12, e^{λ/256})."""
        if self.intnet is None:
            return prm
        mu, lam = prm
        return (mu.to(torch.float32) * 2.0 ** -_intnet.MU_BITS, torch.exp(lam.to(torch.float64) / 256.0).float())

    def _y_symbols(self, y, z_hat, cond, level, quality, seed, frame_index, rdoq):
        """The y streams' (symbols, indexes) as numpy arrays: one pair, or (anchors, rest) with a
        context. With RDOQ (α = ``rdoq`` > 0) the levels are refined against each stream's own
        coding parameters, anchors first (the context then sees the anchors the decoder will have)."""
        gc = self.conditional
        delta = self.level_table(quality).delta.to(self.device)
        k = gc.quantize(y, level, delta, seed, frame_index)
        prm, offset, index = self.hyper_params(z_hat, cond, level, quality, seed, frame_index)
        v = gc.scaled(y, level, delta, seed, frame_index) if rdoq else None

        def refined(k, offset, index, where=None):
            return _rdoq.refine_levels(k, v, offset, index, gc, rdoq, where=where) if rdoq else k

        if not self.has_context:
            k = refined(k, offset, index)
            return [((k - offset).cpu().numpy(), index.cpu().numpy())]
        a = anchor_mask(*k.shape[-2:], self.device)
        k = refined(k, offset, index, where=a)      # the anchors' levels, against the hyperprior's params
        _, offset, index = self.context_params(prm, k, cond, level, quality, seed, frame_index)
        k = refined(k, offset, index, where=~a)
        sym, index = (k - offset).cpu().numpy(), index.cpu().numpy()
        a = np.broadcast_to(a.cpu().numpy(), sym.shape)
        return [(sym[a], index[a]), (sym[~a], index[~a])]

    @contextlib.contextmanager
    def entropy_model(self, hyper, context=None, intnet=None):
        """Estimate with another hyperprior and context (None: none), float or (``intnet``) integer,
        while inside (ablations: the bits of the same symbols under another entropy model)."""
        saved = self.hyper, self.context, self.intnet
        self.hyper, self.context, self.intnet = hyper, context, intnet
        try:
            yield self
        finally:
            self.hyper, self.context, self.intnet = saved

    # ------------------------------------------------------------------ API
    @torch.no_grad()
    def encode_frame(self, frame, levels_u8, quality: int, *, seed: int = 0, frame_index: int = 0,
                     steps: int | None = None, rdoq: float | None = None) -> bytes:
        """One frame's payload; ``rdoq``: RDOQ's α for this frame (None: the codec's default, 0: off)."""
        rdoq = self.rdoq if rdoq is None else _rdoq.check_alpha(rdoq)
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        table = self.level_table(quality)
        level = self.level_map(levels_u8, H, W)
        K = self.steps if steps is None else steps
        if not 0 <= K <= MAX_STEPS:
            raise ValueError(f"steps must be in 0..{MAX_STEPS}")
        y = self.g_a(x)
        cond, _ = self.condition(level, table)
        z_hat = torch.round(self.hyper.analysis(y, cond))
        z_bytes = self.z_prior.compress(z_hat.to(torch.int32).cpu().numpy())
        y_streams = [self.conditional.compress(sym, ix)
                     for sym, ix in self._y_symbols(y, z_hat, cond, level, quality, seed, frame_index, rdoq)]
        lengths = [len(z_bytes)] + [len(b) for b in y_streams[:-1]]
        return self._hdr.pack(self.payload_version, K, *lengths) + z_bytes + b"".join(y_streams)

    def _split_payload(self, payload: bytes):
        payload = bytes(payload)
        hdr = self._hdr
        if len(payload) < hdr.size:
            raise PayloadError(f"frame payload of {len(payload)} bytes is shorter than its header")
        if payload[0] != self.payload_version:
            raise PayloadError(f"frame payload version {payload[0]} (this model decodes {self.payload_version})")
        _, K, *lengths = hdr.unpack_from(payload)
        if K > MAX_STEPS or sum(lengths) > len(payload) - hdr.size:
            raise PayloadError("frame payload header is inconsistent (steps or length out of range)")
        ends = np.cumsum([hdr.size, *lengths]).tolist()
        return K, payload[ends[0]:ends[1]], [payload[a:b] for a, b in zip(ends[1:], ends[2:] + [len(payload)])]

    @torch.no_grad()
    def decode_levels(self, payload: bytes, levels_u8, quality: int, *, seed: int = 0, frame_index: int = 0,
                      height: int, width: int):
        """The entropy-decoding half of ``decode_frame``: (k, params, K) with k the integer levels
        (int32 (1, C, h, w), what the encoder quantized), params the entropy model's (μ, s) or integer
        (μ, λ) and K the steps the payload asks for. Everything here decides symbols: for a model with
        integer entropy networks it is bit-identical on every device (``rac-video check``)."""
        K, z_bytes, y_streams = self._split_payload(payload)
        table = self.level_table(quality)
        level = self.level_map(levels_u8, height, width)
        cond, _ = self.condition(level, table)
        h, w = level.shape[-2:]
        C, gc = self.latent_channels, self.conditional
        try:
            zi = self.z_prior.decompress(z_bytes, (1, self.z_prior.channels, h // HYPER_FACTOR, w // HYPER_FACTOR))
            z_hat = torch.from_numpy(zi).to(self.device).float()
            prm, offset, index = self.hyper_params(z_hat, cond, level, quality, seed, frame_index)
            if not self.has_context:
                sym = gc.decompress(y_streams[0], index.cpu().numpy())
                k = torch.from_numpy(sym).to(self.device).view(1, C, h, w) + offset
            else:                            # anchors first, then the rest from their context
                a = anchor_mask(h, w, self.device).expand(1, C, h, w)
                k = torch.zeros((1, C, h, w), dtype=torch.int32, device=self.device)
                sym = gc.decompress(y_streams[0], index[a].cpu().numpy())
                k[a] = torch.from_numpy(sym.reshape(-1)).to(self.device) + offset[a]
                prm, offset, index = self.context_params(prm, k, cond, level, quality, seed, frame_index)
                sym = gc.decompress(y_streams[1], index[~a].cpu().numpy())
                k[~a] = torch.from_numpy(sym.reshape(-1)).to(self.device) + offset[~a]
        except BitstreamError as exc:
            raise PayloadError(f"corrupt frame payload: {exc}") from exc
        return k.to(torch.int32), prm, K

    @torch.no_grad()
    def decode_frame(self, payload: bytes, levels_u8, quality: int, *, seed: int = 0, frame_index: int = 0,
                     height: int, width: int, steps: int | None = None) -> np.ndarray:
        k, prm, K = self.decode_levels(payload, levels_u8, quality, seed=seed, frame_index=frame_index,
                                       height=height, width=width)
        return self.reconstruct(k, prm, levels_u8, quality, seed=seed, frame_index=frame_index, height=height,
                                width=width, steps=K if steps is None else steps)

    @torch.no_grad()
    def reconstruct(self, k, prm, levels_u8, quality: int, *, seed: int = 0, frame_index: int = 0, height: int,
                    width: int, steps: int) -> np.ndarray:
        """The generative half of ``decode_frame``: ŷ = Δ(k − u), K elementwise DDIM steps, the posterior
        fusion (models that have it) and g_s."""
        table = self.level_table(quality)
        level = self.level_map(levels_u8, height, width)
        gamma = table.gamma.to(self.device)[level.long()]
        delta = table.delta.to(self.device)
        y_hat = self.conditional.dequantize(k, level, delta, seed, frame_index)
        y0 = self.denoise(y_hat, gamma, steps)
        if self.fusion:
            mu, s = self.gaussian_params(prm)
            y0 = fuse_posterior(y0, y_hat, mu, s, delta[level.long()], self.fusion)
        return self.synthesize(y0, height, width)

    def synthesize(self, y0: torch.Tensor, height: int, width: int) -> np.ndarray:
        """g_s of a (denoised) latent, cropped to the frame and rounded to uint8 RGB (H, W, 3)."""
        return uint8_frame(self.g_s(y0), height, width)

    def denoise(self, y_hat: torch.Tensor, gamma: torch.Tensor, steps: int) -> torch.Tensor:
        """K elementwise DDIM steps from each element's own γ (t_k = t·(1 − k/K)); K = 0 returns ŷ."""
        return denoise(self.denoiser, y_hat, gamma, steps)

    @torch.no_grad()
    def estimate_bits(self, frame, levels_u8, quality: int, *, seed: int = 0, frame_index: int = 0,
                      rdoq: float | None = None) -> float:
        """Expected size in bits of the frame payload ``encode_frame`` writes (without the container's
        per-packet overhead): the information content of the exact symbols under the coder's own
        integer tables plus each stream's fixed costs (``entropy.stream_bits``), without running rANS."""
        return self.rate_function(frame, levels_u8, seed=seed, frame_index=frame_index, rdoq=rdoq)(quality)

    @torch.no_grad()
    def rate_function(self, frame, levels_u8, *, seed: int = 0, frame_index: int = 0, rdoq: float | None = None):
        """``q -> estimated payload bits`` for one frame; g_a runs once, each call costs the hyperprior
        and a table lookup per symbol (what per-frame rate control searches over)."""
        rdoq = self.rdoq if rdoq is None else _rdoq.check_alpha(rdoq)
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        level = self.level_map(levels_u8, H, W)
        y = self.g_a(x)

        @torch.no_grad()
        def bits(quality: int) -> float:
            cond, _ = self.condition(level, self.level_table(quality))
            z_hat = torch.round(self.hyper.analysis(y, cond))
            return float(8 * self._hdr.size + self.z_prior.bits(z_hat.to(torch.int32).cpu().numpy())
                         + sum(self.conditional.bits(sym, ix)
                               for sym, ix in self._y_symbols(y, z_hat, cond, level, quality, seed, frame_index,
                                                              rdoq)))

        return bits

    @torch.no_grad()
    def symbol_bits(self, frame, levels_u8, quality: int, *, seed: int = 0, frame_index: int = 0,
                    rdoq: float | None = None):
        """Where a frame's bits go: (y bits (C, h, w), ẑ bits (Z, h/4, w/4)) as float64 arrays, each coded
        symbol's information content under the coder's integer tables (what ``estimate_bits`` sums,
        without the streams' fixed costs)."""
        rdoq = self.rdoq if rdoq is None else _rdoq.check_alpha(rdoq)
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        level = self.level_map(levels_u8, H, W)
        y = self.g_a(x)
        cond, _ = self.condition(level, self.level_table(quality))
        z_hat = torch.round(self.hyper.analysis(y, cond))
        zi = z_hat.to(torch.int32).cpu().numpy()
        zb = self.z_prior.tables.symbol_bits(zi, self.z_prior.indexes(zi.shape)).reshape(zi.shape)[0]
        streams = self._y_symbols(y, z_hat, cond, level, quality, seed, frame_index, rdoq)
        _, C, h, w = y.shape
        if len(streams) == 1:
            return self.conditional.symbol_bits(*streams[0]).reshape(C, h, w), zb
        a = np.broadcast_to(anchor_mask(h, w).cpu().numpy()[0], (C, h, w))
        yb = np.empty((C, h, w))
        yb[a] = self.conditional.symbol_bits(*streams[0])
        yb[~a] = self.conditional.symbol_bits(*streams[1])
        return yb, zb

    @torch.no_grad()
    def information_function(self, frame, levels_u8, *, seed: int = 0, frame_index: int = 0):
        """``q -> {"coded_y", "info_y", "info_y_unfloored", "payload"}`` for one frame (g_a runs once): the
        bits of the y streams ``encode_frame`` writes; the information content of the same levels k under
        the entropy model's continuous Gaussians — −log2 of the mass of N(μ, s²) over each element's bin
        Δ·[k − u ± ½], float64 — with s/Δ floored at the smallest table scale as in training, and without;
        and the whole payload's estimated bits (``estimate_bits``). coded_y / info_y − 1 is the cost of the
        coder's tables and stream layout. RDOQ off."""
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        level = self.level_map(levels_u8, H, W)
        y = self.g_a(x)
        u = ops.hashed_dither(tuple(y.shape), seed, frame_index, device=y.device)

        @torch.no_grad()
        def info(quality: int) -> dict:
            table = self.level_table(quality)
            delta = table.delta.to(self.device)
            cond, _ = self.condition(level, table)
            z_hat = torch.round(self.hyper.analysis(y, cond))
            streams = self._y_symbols(y, z_hat, cond, level, quality, seed, frame_index, 0.0)
            coded = sum(self.conditional.bits(sym, ix) for sym, ix in streams)
            prm, _, _ = self.hyper_params(z_hat, cond, level, quality, seed, frame_index)
            if self.has_context:
                k = self.conditional.quantize(y, level, delta, seed, frame_index)
                prm, _, _ = self.context_params(prm, k, cond, level, quality, seed, frame_index)
            mu, s = self.gaussian_params(prm)
            d = delta[level.long()].expand_as(y)
            z_bits = self.z_prior.bits(z_hat.to(torch.int32).cpu().numpy())
            return {"coded_y": float(coded),
                    "info_y": float(self.conditional.information(y, mu, s, d, u).sum()),
                    "info_y_unfloored": float(self.conditional.information(y, mu, s, d, u, floor=False).sum()),
                    "payload": float(8 * self._hdr.size + z_bits + coded)}

        return info

    def encode_frames(self, frames, levels, quality, **kw) -> list[bytes]:
        return [self.encode_frame(f, lv, q, **kw) for f, lv, q in zip(frames, levels, _seq(quality, len(frames)))]

    def decode_frames(self, payloads, levels, quality, **kw) -> list[np.ndarray]:
        return [self.decode_frame(p, lv, q, **kw) for p, lv, q in zip(payloads, levels, _seq(quality, len(payloads)))]


def _seq(q, n):
    return list(q) if isinstance(q, (list, tuple)) else [q] * n


_CACHE: dict = {}


def frame_tensor(frame, device="cpu") -> torch.Tensor:
    """uint8 RGB (H, W, 3) → float (1, 3, H', W') in [0, 1], edge-replicated to multiples of PAD."""
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    a = np.asarray(frame)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 RGB (H, W, 3), got {a.dtype} {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1 or a.shape[0] > 16384 or a.shape[1] > 16384:
        raise ValueError(f"frame size {a.shape[1]}x{a.shape[0]} out of range 1..16384")
    x = torch.from_numpy(a if a.flags.writeable and a.flags.c_contiguous else a.copy()).to(device).permute(2, 0, 1)[None].float() / 255.0
    H, W = a.shape[:2]
    ph, pw = -H % PAD, -W % PAD
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def uint8_frame(x: torch.Tensor, height: int, width: int) -> np.ndarray:
    """The inverse of ``frame_tensor``: (1, 3, H', W') → cropped, clamped, rounded uint8 (H, W, 3)."""
    x = x[..., :height, :width].clamp(0, 1)
    return (x[0].permute(1, 2, 0) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()


def load_model(name: str | None = None, *, device="cpu") -> Codec:
    """The cached ``Codec`` for a model name (None: the default model)."""
    name = name or DEFAULT_MODEL
    key = (name, str(device))
    if key not in _CACHE:
        _CACHE[key] = Codec(name, device=device)
    return _CACHE[key]


__all__ = ["Codec", "load_model", "frame_tensor", "uint8_frame", "PayloadError", "ModelMismatchError", "PAD", "DEFAULT_STEPS"]
