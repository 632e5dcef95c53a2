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
Latent refinement (encoder only, opt-in, rac_video.codec.refine) may first move y itself by gradient
steps on rate + weighted distortion through the decoder.

With a checkerboard context (models trained with ``--context``, rac_video.codec.context) the
y symbols go in two streams: the anchors with the hyperprior's (μ, s), then the rest with (μ, s)
refined from the decoded anchors.

Models with integer entropy networks (rac-tiny-v6 on; ``rac_video.entropy.intnet``) compute h_s, the
context and the step from (μ, λ) to (offset, table index) in integers only, so their symbols are the
same on every device ("device-independent"); the generative half (denoiser, fusion, g_s) stays float.
``decode_levels`` is the entropy half of ``decode_frame`` (everything that decides symbols) and
``reconstruct`` the generative half.

cond = [t(γ), ℓ/(L−1)] at latent resolution. Frames of any size are padded (edge replicate) to
a multiple of the codec's ``pad`` (f·4; PAD = 32 for f = 8) and cropped back; the level map covers
ceil(H/f) × ceil(W/f) and is
edge-extended over the padding.

Payload layout (little-endian): u8 version, u8 steps K, u32 length of the ẑ stream, ẑ stream,
y stream (both rac_video.entropy streams). Version 3 (context models): u8 version, u8 K, u32 length
of the ẑ stream, u32 length of the anchor stream, ẑ stream, anchor stream, non-anchor stream.
Versions 4 and 5: the layouts of 2 and 3 for models with integer entropy networks.

The masked level (an encode setting, ``masked=M``, True meaning 1): bit 6 of the version byte
(``MASKED_FLAG``) says that a u8 M follows the header (and the colour layer, when there is one) and that no symbol is coded for the elements of
the M lowest importance levels (ℓ < M; M = 1: the lowest level only, what an ROI map's background
gets; a foveation map never falls to level 0 and needs M > 1 for its periphery): both ends set their level k to the coding offset round(μ/Δ + u) — what a zero symbol would
give, so a checkerboard context sees the same anchors on both sides — and the streams hold the other
elements only. A masked element carries no observation: it is at t = 1 (pure noise), and all the
decoder knows of it is the entropy model's N(μ, s²). The deterministic decoder takes the mean, ŷ₀ = μ
(the denoiser sees μ there as context for its neighbours, and the posterior fusion, which needs a
quantization bin, skips it); a stochastic decoder may instead generate it from noise at t = 1
(GAMMA_MIN). Generating it with the deterministic DDIM steps from t = 1 was measured and rejected:
with K ≤ 4 the small denoiser leaves saturated colour noise (tools/eval_masked_level.py).
Payloads without the flag decode exactly as before.
"""
from __future__ import annotations

import contextlib
import struct
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import ops, schedule
from ..profiling import stage
from ..entropy import intnet as _intnet
from ..entropy.models import FactorizedPrior, GaussianConditional
from ..entropy.rans import BitstreamError
from ..errors import CorruptStreamError
from . import colour as _colour
from . import inter as _inter
from . import rdoq as _rdoq
from . import refine as _refine
from . import transfer
from .autoencoder import FACTOR
from .context import anchor_mask
from .denoiser import denoise
from .hyperprior import HYPER_FACTOR
from .posterior import check_fusion, fuse_posterior, sample_posterior
from .realism import MIN_STEPS as REALISM_MIN_STEPS
from .realism import check_realism, realism_generator, realism_weight
from .weights import DEFAULT_MODEL, ModelMismatchError, load_modules

PAD = FACTOR * HYPER_FACTOR
PAYLOAD_VERSION = 2  # 2: y tables indexed by (scale, mean bucket)
CONTEXT_PAYLOAD_VERSION = 3  # 3: the y symbols in two checkerboard streams
INT_PAYLOAD_VERSION = 4  # 4: as 2, (μ, s) and the coding parameters from exact integer networks
INT_CONTEXT_PAYLOAD_VERSION = 5  # 5: as 3, with exact integer networks (hyperprior and context)
COLOUR_FLAG = 0x80  # set in the version byte: a colour layer (rac_video.codec.colour) follows the header
_COLOUR_LEN = struct.Struct("<H")
MASKED_FLAG = 0x40  # set in the version byte: a u8 M follows (after the colour layer), levels ℓ < M are not coded
DEFAULT_STEPS = 2           # K for models whose record does not name one
MAX_STEPS = 64
_HDR = struct.Struct("<BBI")
_HDR3 = struct.Struct("<BBII")


class PayloadError(CorruptStreamError):
    """A frame payload that cannot be decoded."""


class LatentLevels(NamedTuple):
    """What ``Codec.decode_levels`` returns: the integer levels k (int32 (1, C, h, w)), the entropy
    model's parameters, the steps K the payload asks for and its masked levels M (0: none)."""
    k: torch.Tensor
    params: tuple
    steps: int
    masked: int = 0


def payload_extensions(payload: bytes, start: int, levels: int) -> tuple[bytes | None, int, int]:
    """The optional parts after a frame payload's fixed header at ``start`` that its version byte's flag bits
    announce, for I- and P-frames alike: (colour layer or None, masked levels M (0: none), where the rest
    starts). PayloadError when they are cut or out of range."""
    layer, masked = None, 0
    if payload[0] & COLOUR_FLAG:
        if len(payload) < start + _COLOUR_LEN.size:
            raise PayloadError("frame payload is cut inside its colour layer")
        (n,) = _COLOUR_LEN.unpack_from(payload, start)
        start += _COLOUR_LEN.size
        layer, start = payload[start:start + n], start + n
        if len(layer) != n:
            raise PayloadError("frame payload is cut inside its colour layer")
    if payload[0] & MASKED_FLAG:
        if len(payload) < start + 1 or not 0 < payload[start] < levels:
            raise PayloadError("frame payload's masked levels are missing or out of range")
        masked, start = payload[start], start + 1
    return layer, masked, start


def colour_extension(frame) -> bytes:
    """The colour layer of ``frame`` as a payload carries it (after the fixed header; COLOUR_FLAG set)."""
    layer = _colour.encode(np.asarray(frame))
    return _COLOUR_LEN.pack(len(layer)) + layer


def apply_colour_layer(rec: np.ndarray, layer: bytes | None, height: int, width: int) -> np.ndarray:
    """The decoded picture with a payload's colour layer applied (``layer`` None: unchanged)."""
    if layer is None:
        return rec
    try:
        target = _colour.decode(layer, height, width)
    except _colour.ColourLayerError as exc:
        raise PayloadError(f"corrupt frame payload: {exc}") from exc
    return _colour.apply(rec, target)


class Codec:
    """One loaded model. Thread-compatible (no state changes after construction)."""

    def __init__(self, name: str = DEFAULT_MODEL, *, device="cpu", steps: int | None = None,
                 rdoq: float | None = None, fusion: float | None = None, masked: bool | int | None = None,
                 bf16: bool | None = None, refine_beta: float | None = None, refine_kappa: float | None = None):
        modules, arch, state, record = load_modules(name)       # the one model loader (codec.weights)
        self.name, self.record, self.architecture = name, record, arch
        self.weights_hash = record["sha256"]
        self.factor = arch.factor
        self.pad = self.factor * HYPER_FACTOR
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
        # the distortion weight β of encode-time latent refinement (rac_video.codec.refine; encoder only)
        self.refine_beta = _refine.check_beta(record.get("refine_beta", _refine.REFINE_BETA)
                                              if refine_beta is None else refine_beta)
        self.refine_kappa = _refine.check_kappa(record.get("refine_kappa", _refine.REFINE_KAPPA)
                                                if refine_kappa is None else refine_kappa)
        # the decoder's posterior fusion constant c (rac_video.codec.posterior; 0: off): part of the model,
        # from its record, so a file decodes the same way wherever its model does
        self.fusion = check_fusion(record.get("posterior_fusion", 0.0) if fusion is None else fusion)
        # the masked levels (module docstring): the encoder's default, the model's (its record), else none
        self.masked = 0
        self.masked = self.masked_levels(record.get("masked_levels", 0) if masked is None else masked)
        C = arch.latent_channels
        modules = {k: m.to(self.device) for k, m in modules.items()}
        self.g_a, self.g_s, self.denoiser, self.hyper = (modules[k] for k in ("g_a", "g_s", "denoiser", "hyperprior"))
        self.context = modules.get("context")
        # exact integer entropy networks (rac_video.entropy.intnet): device-independent bitstreams
        self.intnet = _intnet.IntNet(state["intnet"], self.device) if "intnet" in state else None
        # the realism synthesis transform (rac_video.codec.realism), where the model ships one
        self.g_s_real = modules.get("g_s_real")
        for g in (self.g_s, self.g_s_real):   # pixels only, never a symbol: the faster layout (Synthesis)
            if g is not None and hasattr(g, "channels_last"):
                g.channels_last()
        # the pixel networks (denoiser, g_s) in bfloat16 where the CPU has native bf16 (``pixel_precision``)
        self.bf16 = pixel_bf16_default(self.device) if bf16 is None else bool(bf16)
        # the integer temporal prior of P-frames (rac_video.codec.inter), for models that have one
        self.temporal = _inter.TemporalPrior(state["temporal"], self.device) if "temporal" in state else None
        self.latent_channels = C
        self.conditional = GaussianConditional()
        self._z_prior_cache = None

    def pixel_precision(self):
        """Context of the networks that only make pixels (the denoiser, g_s, g_s_real — never a symbol):
        bfloat16 autocast when ``self.bf16``, else nothing (float32). On a CPU with native bf16 (AVX512-BF16 or
        AMX) that halves their time; the pictures stay within a few 8-bit levels of float32's (≥ 53 dB PSNR
        between the two, ±0.005 dB against the source; docs/results.md, "Video pipeline")."""
        if not self.bf16:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

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
        return -(-int(height) // self.factor), -(-int(width) // self.factor)

    def frame_tensor(self, frame) -> torch.Tensor:
        """uint8 RGB (H, W, 3) → the analysis transform's input on this codec's device (module ``frame_tensor``)."""
        return frame_tensor(frame, self.device, pad=self.pad)

    def analysis(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """g_a of a frame tensor; an importance-conditioned g_a also sees the level map ℓ/(L−1)."""
        if self.architecture.importance_analysis:
            return self.g_a(x, level.float() / (self.levels - 1))
        return self.g_a(x)

    def level_map(self, levels_u8, height, width) -> torch.Tensor:
        """The (h, w) uint8 importance levels of a frame → the (1, 1, h', w') int32 level map the ops and
        networks take (checked, edge-extended over the padding to a multiple of pad / f)."""
        lv = np.asarray(levels_u8)
        want = self.latent_hw(height, width)
        if lv.shape != want:
            raise ValueError(f"levels must have shape {want} for a {width}x{height} frame, got {lv.shape}")
        if lv.dtype != np.uint8 or (lv.size and int(lv.max()) >= self.levels):
            raise ValueError(f"levels must be uint8 in 0..{self.levels - 1}")
        t = torch.from_numpy(np.array(lv, dtype=np.uint8)).to(self.device, torch.int32)[None, None]
        P, f = self.pad, self.factor
        Hp, Wp = -(-height // P) * P // f, -(-width // P) * P // f
        return F.pad(t.float(), (0, Wp - want[1], 0, Hp - want[0]), mode="replicate").to(torch.int32)

    def level_table(self, quality: int) -> schedule.LevelTable:
        """Per-level γ / Δ tables for quality q under this model's schedule version."""
        return schedule.level_table(quality, self.levels, self.schedule_version)

    def masked_levels(self, masked) -> int:
        """The number M of masked levels of an encode setting: None the codec's default, True 1, False 0."""
        if masked is None:
            return self.masked
        if not isinstance(masked, (bool, int, np.integer)) or not 0 <= int(masked) < self.levels:
            raise ValueError(f"masked must be a bool or a number of levels in 0..{self.levels - 1}, got {masked!r}")
        return int(masked)

    @staticmethod
    def masked_elements(level, masked: int = 1) -> torch.Tensor:
        """(1, 1, h, w) bool: the elements a payload with M = ``masked`` masked levels does not code (ℓ < M)."""
        return level < int(masked)

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

    @stage("hyperprior+context")
    def hyper_params(self, z_hat, cond, level, quality: int, seed: int, dither_frame: int):
        """The hyperprior's view of every element: (params, offset, index) with params (μ, s) as float
        tensors, or (μ, λ) as integers for integer networks; offset and index int32 (the coding parameters)."""
        if self.intnet is not None:
            cond_int = _intnet.integer_condition(level, quality, self.schedule_version, self.levels)
            prm = self.intnet.synthesis(z_hat.to(torch.int64), cond_int)
            return (prm, *self.conditional.int_params(*prm, level, quality, self.schedule_version, self.levels,
                                                      seed, dither_frame))
        prm = self.hyper.synthesis(z_hat, cond)
        delta = self.level_table(quality).delta.to(self.device)
        return (prm, *self.conditional.params(*prm, level, delta, seed, dither_frame))

    @stage("hyperprior+context")
    def context_params(self, prm, k, cond, level, quality: int, seed: int, dither_frame: int):
        """(params, offset, index) refined by the checkerboard context from the anchors of the levels ``k``
        (the non-anchor values of ``k`` are never read)."""
        if self.intnet is not None:
            cond_int = _intnet.integer_condition(level, quality, self.schedule_version, self.levels)
            y16 = _intnet.anchors16(k, level, quality, self.schedule_version, self.levels, seed, dither_frame)
            prm = self.intnet.context(y16, *prm, cond_int, anchor_mask(*k.shape[-2:], self.device))
            return (prm, *self.conditional.int_params(*prm, level, quality, self.schedule_version, self.levels,
                                                      seed, dither_frame))
        delta = self.level_table(quality).delta.to(self.device)
        prm = self.context(self.conditional.dequantize(k, level, delta, seed, dither_frame), *prm, cond)
        return (prm, *self.conditional.params(*prm, level, delta, seed, dither_frame))

    def gaussian_params(self, prm):
        """Float (μ, s) in latent units of a params pair (integer networks: μ·2^−12, e^{λ/256})."""
        if self.intnet is None:
            return prm
        mu, lam = prm
        return (mu.to(torch.float32) * 2.0 ** -_intnet.MU_BITS, torch.exp(lam.to(torch.float64) / 256.0).float())

    def _y_symbols(self, y, z_hat, cond, level, quality, seed, dither_frame, rdoq, masked=0):
        """The y streams' (symbols, indexes) as numpy arrays: one pair, or (anchors, rest) with a
        context. With RDOQ (α = ``rdoq`` > 0) the levels are refined against each stream's own
        coding parameters, anchors first (the context then sees the anchors the decoder will have).
        ``masked`` M > 0: the elements of levels ℓ < M take k = offset and are left out of the streams
        (1-D arrays of the coded elements, in raster order)."""
        gc = self.conditional
        delta = self.level_table(quality).delta.to(self.device)
        k = gc.quantize(y, level, delta, seed, dither_frame)
        prm, offset, index = self.hyper_params(z_hat, cond, level, quality, seed, dither_frame)
        v = gc.scaled(y, level, delta, seed, dither_frame) if rdoq else None

        def refined(k, offset, index, where=None):
            return _rdoq.refine_levels(k, v, offset, index, gc, rdoq, where=where) if rdoq else k

        coded = ~self.masked_elements(level, masked).expand_as(k) if masked else None
        if not self.has_context:
            k = refined(k, offset, index)
            if coded is None:
                return [((k - offset).cpu().numpy(), index.cpu().numpy())]
            return [((k - offset)[coded].cpu().numpy(), index[coded].cpu().numpy())]
        a = anchor_mask(*k.shape[-2:], self.device)
        k = refined(k, offset, index, where=a)      # the anchors' levels, against the hyperprior's params
        if coded is not None:                       # masked anchors: the level the decoder will set
            k = torch.where(coded, k, offset)
        _, offset, index = self.context_params(prm, k, cond, level, quality, seed, dither_frame)
        k = refined(k, offset, index, where=~a)
        sym, index = (k - offset).cpu().numpy(), index.cpu().numpy()
        a = np.broadcast_to(a.cpu().numpy(), sym.shape)
        if coded is None:
            return [(sym[a], index[a]), (sym[~a], index[~a])]
        c = coded.cpu().numpy()
        return [(sym[a & c], index[a & c]), (sym[~a & c], index[~a & c])]

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
    def encode_frame(self, frame, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0,
                     steps: int | None = None, rdoq: float | None = None, colour: bool = True,
                     masked: bool | int | None = None, refine: int = 0) -> bytes:
        """One frame's payload; ``rdoq``: RDOQ's α for this frame (None: the codec's default, 0: off);
        ``colour``: add the colour layer (every 64×64 block's mean colour; rac_video.codec.colour);
        ``masked``: code nothing for the elements of the M = ``masked`` lowest levels (True: 1; module
        docstring; None: the codec's default); ``refine``: N steps of encode-time latent refinement
        (rac_video.codec.refine; 0: off)."""
        rdoq = self.rdoq if rdoq is None else _rdoq.check_alpha(rdoq)
        masked = self.masked_levels(masked)
        refine = _refine.check_refine(refine)
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        table = self.level_table(quality)
        level = self.level_map(levels_u8, H, W)
        K = self.steps if steps is None else steps
        if not 0 <= K <= MAX_STEPS:
            raise ValueError(f"steps must be in 0..{MAX_STEPS}")
        with stage("analysis"):
            y = self.analysis(x, level)
        if refine:
            with stage("refine"):
                y = _refine.refine_latent(self, x, y, level, quality, iterations=refine, steps=K, masked=masked,
                                          beta=self.refine_beta, kappa=self.refine_kappa, height=H, width=W,
                                          seed=seed ^ (dither_frame << 8))
        with stage("hyperprior+context"):
            cond, _ = self.condition(level, table)
            z_hat = torch.round(self.hyper.analysis(y, cond))
            symbols = self._y_symbols(y, z_hat, cond, level, quality, seed, dither_frame, rdoq, masked)
        z_bytes = self.z_prior.compress(z_hat.to(torch.int32).cpu().numpy())
        y_streams = [self.conditional.compress(sym, ix) for sym, ix in symbols]
        lengths = [len(z_bytes)] + [len(b) for b in y_streams[:-1]]
        flags = (COLOUR_FLAG if colour else 0) | (MASKED_FLAG if masked else 0)
        head = self._hdr.pack(self.payload_version | flags, K, *lengths)
        if colour:
            head += colour_extension(frame)
        if masked:
            head += bytes([masked])
        return head + z_bytes + b"".join(y_streams)

    def _split_payload(self, payload: bytes):
        """(K, ẑ stream, y streams, colour layer or None, masked levels M) of a frame payload; PayloadError
        when inconsistent."""
        payload = bytes(payload)
        hdr = self._hdr
        if len(payload) < hdr.size:
            raise PayloadError(f"frame payload of {len(payload)} bytes is shorter than its header")
        if payload[0] & ~(COLOUR_FLAG | MASKED_FLAG) != self.payload_version:
            raise PayloadError(f"frame payload version {payload[0] & ~(COLOUR_FLAG | MASKED_FLAG)} (this model "
                               f"decodes {self.payload_version})")
        _, K, *lengths = hdr.unpack_from(payload)
        layer, masked, start = payload_extensions(payload, hdr.size, self.levels)
        if K > MAX_STEPS or sum(lengths) > len(payload) - start:
            raise PayloadError("frame payload header is inconsistent (steps or length out of range)")
        ends = np.cumsum([start, *lengths]).tolist()
        return (K, payload[ends[0]:ends[1]], [payload[a:b] for a, b in zip(ends[1:], ends[2:] + [len(payload)])],
                layer, masked)

    @torch.no_grad()
    @stage("entropy coding")
    def decode_levels(self, payload: bytes, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0,
                      height: int, width: int):
        """The entropy-decoding half of ``decode_frame``: ``LatentLevels(k, params, steps, masked)`` with k
        the integer levels (int32 (1, C, h, w), what the encoder quantized; a masked element's is its
        offset), params the entropy model's (μ, s) or integer (μ, λ), steps the K the payload asks for and
        masked its number of masked levels M (0: none). Everything here decides symbols: for a model with
        integer entropy networks it is bit-identical on every device (``rac-video check``)."""
        K, z_bytes, y_streams, _, masked = self._split_payload(payload)
        table = self.level_table(quality)
        level = self.level_map(levels_u8, height, width)
        cond, _ = self.condition(level, table)
        h, w = level.shape[-2:]
        C, gc = self.latent_channels, self.conditional
        try:
            zi = self.z_prior.decompress(z_bytes, (1, self.z_prior.channels, h // HYPER_FACTOR, w // HYPER_FACTOR))
            z_hat = torch.from_numpy(zi).to(self.device).float()
            prm, offset, index = self.hyper_params(z_hat, cond, level, quality, seed, dither_frame)
            if masked:                       # the masked levels' elements: k = offset, nothing coded
                coded = ~self.masked_elements(level, masked).expand(1, C, h, w)
                k = offset.clone()
                if not self.has_context:
                    sym = gc.decompress(y_streams[0], index[coded].cpu().numpy())
                    k[coded] = torch.from_numpy(sym.reshape(-1)).to(self.device) + offset[coded]
                else:
                    a = anchor_mask(h, w, self.device).expand(1, C, h, w)
                    sym = gc.decompress(y_streams[0], index[a & coded].cpu().numpy())
                    k[a & coded] = torch.from_numpy(sym.reshape(-1)).to(self.device) + offset[a & coded]
                    prm, offset, index = self.context_params(prm, k, cond, level, quality, seed, dither_frame)
                    k = torch.where(coded, k, offset)
                    rest = ~a & coded
                    sym = gc.decompress(y_streams[1], index[rest].cpu().numpy())
                    k[rest] = torch.from_numpy(sym.reshape(-1)).to(self.device) + offset[rest]
            elif not self.has_context:
                sym = gc.decompress(y_streams[0], index.cpu().numpy())
                k = torch.from_numpy(sym).to(self.device).view(1, C, h, w) + offset
            else:                            # anchors first, then the rest from their context
                a = anchor_mask(h, w, self.device).expand(1, C, h, w)
                k = torch.zeros((1, C, h, w), dtype=torch.int32, device=self.device)
                sym = gc.decompress(y_streams[0], index[a].cpu().numpy())
                k[a] = torch.from_numpy(sym.reshape(-1)).to(self.device) + offset[a]
                prm, offset, index = self.context_params(prm, k, cond, level, quality, seed, dither_frame)
                sym = gc.decompress(y_streams[1], index[~a].cpu().numpy())
                k[~a] = torch.from_numpy(sym.reshape(-1)).to(self.device) + offset[~a]
        except BitstreamError as exc:
            raise PayloadError(f"corrupt frame payload: {exc}") from exc
        return LatentLevels(k.to(torch.int32), prm, K, masked)

    @torch.no_grad()
    def decode_frame(self, payload: bytes, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0,
                     height: int, width: int, steps: int | None = None, realism: float = 0.0) -> np.ndarray:
        """One frame's payload → uint8 RGB (H, W, 3). ``realism`` ρ ∈ [0, 1] is the decoder's choice of how
        much to generate where the importance is low (rac_video.codec.realism; 0: the fidelity decode)."""
        k, prm, K, masked = self.decode_levels(payload, levels_u8, quality, seed=seed, dither_frame=dither_frame,
                                               height=height, width=width)
        rec = self.reconstruct(k, prm, levels_u8, quality, seed=seed, dither_frame=dither_frame, height=height,
                               width=width, steps=K if steps is None else steps, realism=realism, masked=masked)
        with stage("synthesis"):
            return apply_colour_layer(rec, self._split_payload(payload)[3], height, width)

    @torch.no_grad()
    @stage("denoise")
    def reconstruct(self, k, prm, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0, height: int,
                    width: int, steps: int, realism: float = 0.0, masked: int = 0, hold: tuple | None = None,
                    return_latent: bool = False):
        """The generative half of ``decode_frame``: ŷ = Δ(k − u), K elementwise DDIM steps, the posterior
        fusion (models that have it) and g_s; with ``realism`` ρ > 0, the sampled variant of each step
        (rac_video.codec.realism). ``masked`` (the payload's M, ``LatentLevels.masked``): the masked
        levels' elements start from the entropy model's mean μ, and the fidelity decode keeps μ there
        (module docstring); the realism decode samples them like any element of their level.

        ``hold`` (P-frames, rac_video.codec.inter): (y_ref, where) — the reconstructed latent of the reference
        frame and a bool map; there the latent that g_s sees is y_ref's (static generated content is not
        re-synthesised differently in every frame). ``return_latent``: return (pixels, that latent) — what a
        later P-frame holds. Pixels only: nothing here decides a symbol."""
        rho = check_realism(realism)
        table = self.level_table(quality)
        level = self.level_map(levels_u8, height, width)
        gamma = table.gamma.to(self.device)[level.long()]
        delta = table.delta.to(self.device)
        y_hat = self.conditional.dequantize(k, level, delta, seed, dither_frame)
        mu = s = None
        if self.fusion or rho or masked:
            mu, s = self.gaussian_params(prm)
        m = self.masked_elements(level, masked) if masked else None
        if m is not None:
            y_hat = torch.where(m, mu.to(y_hat.dtype), y_hat)
        w = realism_weight(level, self.levels, rho) if rho else None

        def held(y):
            if hold is None or hold[0] is None or hold[0].shape != y.shape:
                return y
            return torch.where(hold[1], hold[0].to(y.dtype), y)

        def g_s(y, net=None):
            with stage("synthesis"):
                return self.synthesis(y, net)

        def out(x, y):
            with stage("synthesis"):
                rec = uint8_frame(x, height, width)
            return (rec, y) if return_latent else rec

        x_fid = None
        if not rho or (self.g_s_real is not None and float(w.max()) > 0):   # the fidelity picture is needed
            y0 = self.denoise(y_hat, gamma, steps)
            if self.fusion:
                y0 = fuse_posterior(y0, y_hat, mu, s, delta[level.long()], self.fusion)
            if m is not None:
                y0 = torch.where(m, y_hat, y0)
            if not rho:
                y0 = held(y0)
                return out(g_s(y0), y0)
            x_fid = g_s(y0)
        if float(w.max()) == 0:             # all ROI: nothing to generate, the fidelity decode
            return self.reconstruct(k, prm, levels_u8, quality, seed=seed, dither_frame=dither_frame, height=height,
                                    width=width, steps=steps, masked=masked, hold=hold, return_latent=return_latent)
        gen = realism_generator(seed, dither_frame)
        y_den = self.denoise(y_hat, gamma, max(steps, REALISM_MIN_STEPS), eta=w, generator=gen)
        y_fused = fuse_posterior(y_den, y_hat, mu, s, delta[level.long()], self.fusion)
        y_real = held(sample_posterior(y_fused, y_den, y_hat, mu, s, delta[level.long()], self.fusion, w, gen))
        if self.g_s_real is None:
            return out(g_s(y_real), y_real)
        x_real = g_s(y_real, self.g_s_real)
        w_px = F.interpolate(w, size=x_fid.shape[-2:], mode="bilinear", align_corners=False)
        return out(x_fid + w_px * (x_real - x_fid), y_real)

    def synthesis(self, y0: torch.Tensor, net=None) -> torch.Tensor:
        """g_s (or ``net``: g_s_real) of a latent in this codec's pixel precision, as float32 (1, 3, H', W')."""
        with self.pixel_precision():
            return (net or self.g_s)(y0).float()

    @stage("synthesis")
    def synthesize(self, y0: torch.Tensor, height: int, width: int) -> np.ndarray:
        """g_s of a (denoised) latent, cropped to the frame and rounded to uint8 RGB (H, W, 3)."""
        return uint8_frame(self.synthesis(y0), height, width)

    def denoise(self, y_hat: torch.Tensor, gamma: torch.Tensor, steps: int, *, eta=None, generator=None) -> torch.Tensor:
        """K elementwise DDIM steps from each element's own γ (t_k = t·(1 − k/K)); K = 0 returns ŷ. ``eta`` /
        ``generator``: the stochastic steps of a realism decode (``denoiser.denoise``). In this codec's pixel
        precision; float32 out."""
        with self.pixel_precision():
            return denoise(self.denoiser, y_hat, gamma, steps, eta=eta, generator=generator)

    @torch.no_grad()
    def estimate_bits(self, frame, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0,
                      rdoq: float | None = None, colour: bool = True, masked: bool | int | None = None) -> float:
        """Expected size in bits of the frame payload ``encode_frame`` writes (without the container's
        per-packet overhead): the information content of the exact symbols under the coder's own
        integer tables plus each stream's fixed costs (``entropy.stream_bits``), without running rANS."""
        return self.rate_function(frame, levels_u8, seed=seed, dither_frame=dither_frame, rdoq=rdoq,
                                  colour=colour, masked=masked)(quality)

    @torch.no_grad()
    def rate_function(self, frame, levels_u8, *, seed: int = 0, dither_frame: int = 0, rdoq: float | None = None,
                      colour: bool = True, masked: bool | int | None = None):
        """``q -> estimated payload bits`` for one frame; g_a runs once, each call costs the hyperprior
        and a table lookup per symbol (what per-frame rate control searches over)."""
        rdoq = self.rdoq if rdoq is None else _rdoq.check_alpha(rdoq)
        masked = self.masked_levels(masked)
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        level = self.level_map(levels_u8, H, W)
        y = self.analysis(x, level)
        colour_bytes = (_COLOUR_LEN.size + len(_colour.encode(np.asarray(frame)))) if colour else 0
        colour_bytes += 1 if masked else 0          # the masked-levels byte

        @torch.no_grad()
        def bits(quality: int) -> float:
            cond, _ = self.condition(level, self.level_table(quality))
            z_hat = torch.round(self.hyper.analysis(y, cond))
            return float(8 * (self._hdr.size + colour_bytes) + self.z_prior.bits(z_hat.to(torch.int32).cpu().numpy())
                         + sum(self.conditional.bits(sym, ix)
                               for sym, ix in self._y_symbols(y, z_hat, cond, level, quality, seed, dither_frame,
                                                              rdoq, masked)))

        return bits

    @torch.no_grad()
    def symbol_bits(self, frame, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0,
                    rdoq: float | None = None, masked: bool | int | None = None):
        """Where a frame's bits go: (y bits (C, h, w), ẑ bits (Z, h/4, w/4)) as float64 arrays, each coded
        symbol's information content under the coder's integer tables (what ``estimate_bits`` sums,
        without the streams' fixed costs); a masked element's bits are 0."""
        rdoq = self.rdoq if rdoq is None else _rdoq.check_alpha(rdoq)
        masked = self.masked_levels(masked)
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        level = self.level_map(levels_u8, H, W)
        y = self.analysis(x, level)
        cond, _ = self.condition(level, self.level_table(quality))
        z_hat = torch.round(self.hyper.analysis(y, cond))
        zi = z_hat.to(torch.int32).cpu().numpy()
        zb = self.z_prior.tables.symbol_bits(zi, self.z_prior.indexes(zi.shape)).reshape(zi.shape)[0]
        streams = self._y_symbols(y, z_hat, cond, level, quality, seed, dither_frame, rdoq, masked)
        _, C, h, w = y.shape
        if len(streams) == 1 and not masked:
            return self.conditional.symbol_bits(*streams[0]).reshape(C, h, w), zb
        coded = np.broadcast_to(~self.masked_elements(level, masked).cpu().numpy()[0] if masked else True, (C, h, w))
        yb = np.zeros((C, h, w))
        if len(streams) == 1:
            yb[coded] = self.conditional.symbol_bits(*streams[0])
            return yb, zb
        a = np.broadcast_to(anchor_mask(h, w).cpu().numpy()[0], (C, h, w))
        yb[a & coded] = self.conditional.symbol_bits(*streams[0])
        yb[~a & coded] = self.conditional.symbol_bits(*streams[1])
        return yb, zb

    @torch.no_grad()
    def information_function(self, frame, levels_u8, *, seed: int = 0, dither_frame: int = 0):
        """``q -> {"coded_y", "info_y", "info_y_unfloored", "payload"}`` for one frame (g_a runs once): the
        bits of the y streams ``encode_frame`` writes; the information content of the same levels k under
        the entropy model's continuous Gaussians — −log2 of the mass of N(μ, s²) over each element's bin
        Δ·[k − u ± ½], float64 — with s/Δ floored at the smallest table scale as in training, and without;
        and the whole payload's estimated bits (``estimate_bits``). coded_y / info_y − 1 is the cost of the
        coder's tables and stream layout. RDOQ off."""
        x = self.frame_tensor(frame)
        H, W = np.asarray(frame).shape[:2]
        level = self.level_map(levels_u8, H, W)
        y = self.analysis(x, level)
        u = ops.hashed_dither(tuple(y.shape), seed, dither_frame, device=y.device)

        @torch.no_grad()
        def info(quality: int) -> dict:
            table = self.level_table(quality)
            delta = table.delta.to(self.device)
            cond, _ = self.condition(level, table)
            z_hat = torch.round(self.hyper.analysis(y, cond))
            streams = self._y_symbols(y, z_hat, cond, level, quality, seed, dither_frame, 0.0)
            coded = sum(self.conditional.bits(sym, ix) for sym, ix in streams)
            prm, _, _ = self.hyper_params(z_hat, cond, level, quality, seed, dither_frame)
            if self.has_context:
                k = self.conditional.quantize(y, level, delta, seed, dither_frame)
                prm, _, _ = self.context_params(prm, k, cond, level, quality, seed, dither_frame)
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


def frame_tensor(frame, device="cpu", *, pad: int = PAD) -> torch.Tensor:
    """uint8 RGB (H, W, 3) → float (1, 3, H', W') in [0, 1], edge-replicated to multiples of ``pad``."""
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    a = np.asarray(frame)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 RGB (H, W, 3), got {a.dtype} {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1 or a.shape[0] > 16384 or a.shape[1] > 16384:
        raise ValueError(f"frame size {a.shape[1]}x{a.shape[0]} out of range 1..16384")
    x = transfer.upload(a, device).permute(2, 0, 1)[None].float() / 255.0
    H, W = a.shape[:2]
    ph, pw = -H % pad, -W % pad
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def uint8_frame(x: torch.Tensor, height: int, width: int) -> np.ndarray:
    """The inverse of ``frame_tensor``: (1, 3, H', W') → cropped, clamped, rounded uint8 (H, W, 3)."""
    x = x[..., :height, :width].clamp(0, 1)
    return transfer.download((x[0].permute(1, 2, 0) * 255.0 + 0.5).to(torch.uint8))


def pixel_bf16_default(device) -> bool:
    """Whether the pixel networks run in bfloat16 by default on ``device`` (``Codec.pixel_precision``): on a
    CPU with native bf16 arithmetic (elsewhere oneDNN emulates it, slower than float32); never on CUDA yet.
    ``RAC_VIDEO_BF16=0`` / ``=1`` overrides."""
    import os
    env = os.environ.get("RAC_VIDEO_BF16", "").strip()
    if env in ("0", "1"):
        return env == "1"
    if env:
        raise ValueError(f"RAC_VIDEO_BF16 must be 0 or 1, got {env!r}")
    if torch.device(device).type != "cpu":
        return False
    cpu = getattr(torch, "cpu", None)
    native = [getattr(cpu, f, None) for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(f()) for f in native if f is not None)


def load_model(name: str | None = None, *, device="cpu") -> Codec:
    """The cached ``Codec`` for a model name (None: the default model)."""
    name = name or DEFAULT_MODEL
    key = (name, str(device))
    if key not in _CACHE:
        _CACHE[key] = Codec(name, device=device)
    return _CACHE[key]


__all__ = ["Codec", "LatentLevels", "load_model", "frame_tensor", "uint8_frame", "PayloadError", "ModelMismatchError", "PAD",
           "DEFAULT_STEPS", "MASKED_FLAG"]
