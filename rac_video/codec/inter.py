"""Inter-frame (P-frame) coding: frame t's symbols coded with an integer temporal prior on a reference frame.

A P-frame is a run of the image codec whose entropy model also sees the reference frame's decoded latent
(docs/design.md §3.9). Everything that decides a symbol is integer arithmetic (docs/design.md §3.8), so
P-frames decode to the same symbols on every device, like the integer I-frames (payload versions 4/5).

Reference state (:class:`Reference`, the same integers at both ends): the reference frame's levels k_ref,
its importance-level map, its quality and its hyper-latent ẑ_ref.

Per P-frame:

1. **Motion** (encoder only, sent): one vector (dy, dx) ∈ [−R, R]² in 1/SUB latent pixels per BLOCK × BLOCK
   latent block, chosen by block matching of y_t against ŷ_ref (cost Σ log2(1 + |y − ŷ_ref|/Δ), an estimate of
   bits; whole pixels, then the fractions),
   and a **mode** per block: 0 = intra (the hyperprior's (μ, λ), as an I-frame), 1 or 2 = temporal with
   table 1 or 2 (the second one trained for blocks that repeat almost exactly), 3 = table 2 without a
   vector, and the decoder holds the reference's reconstruction where the levels repeat (:func:`reconstruct`;
   set by the encoder for low-importance blocks whose source latent did not change). The encoder picks the
   vector (none, best whole-pixel, best fractional) and the mode with the fewest exact coded bits.
2. **Aligned reference** in fixed point: ŷ_ref = Δ_ref·(k_ref − u) in 2^−12 latent units (integer Δ·2^20 and
   the 24-bit dither), interpolated bilinearly in integers at (i + dy, j + dx), edges replicated
   (:func:`align`); the reference's level map moves with it (nearest). With the shared dither of a file (the pipeline's fixed dither counter), a static element at the
   same level quantizes to the same k in both frames, so its prediction is exact.
3. **Temporal prior** (a learned integer table, :class:`TemporalPrior`): per element the features
   e = bucket of |ŷ_ref − μ_h|/Δ (8), the hyperprior's scale-index group (8), the level group ℓ/4 (4) and
   "exact" (same level and zero vector) select a cell holding w ∈ [0, 256] and r (λ units); then
   μ = μ_h + ⌊(w·(ŷ_ref − μ_h) + 128) / 256⌋ and λ = clamp(round(256·ln Δ_t) + r). With the checkerboard
   context the anchors use the prior on the hyperprior's (μ, λ), the others on the context-refined one.
   (μ, λ) → (offset, table index) is then ``intnet.coding_params``, as for I-frames.
4. **ẑ**: coded as an I-frame's (factorized prior), or as ẑ − ẑ_ref with one zero-mean table per channel,
   whichever the encoder finds smaller.

Payload version 6 (little-endian): u8 version (bit 7: a colour layer follows the fixed header, as in an
I-frame, ``model.payload_extensions``; bit 6, masked levels, is not used by P-frames), u8 steps K, u8 flags
(bit 0: ẑ temporal, bit 1: context streams), u8 0, u16 mode table index, u16 dy index, u16 dx index,
[the colour layer: u16 length, bytes], [Z × u8 ẑ scale index when bit 0],
u32 length of the side stream (modes, dy, dx of every block), u32 length of the ẑ stream, [u32 length of
the anchor stream when bit 1], then the streams (the last one's length is the rest).
"""
from __future__ import annotations

import functools
import math
import struct
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .. import ops
from ..profiling import stage
from ..entropy import intnet as _intnet
from ..entropy.rans import BitstreamError
from ..entropy.tables import MEAN_BUCKETS
from .context import anchor_mask
from .hyperprior import HYPER_FACTOR

__all__ = ["P_PAYLOAD_VERSION", "BLOCK", "SEARCH", "Reference", "TemporalPrior", "encode_p", "decode_p",
           "intra_reference", "payload_is_p", "TEMPORAL_VERSION", "SequenceEncoder", "SequenceDecoder",
           "DecodedFrame", "EntropyFrame"]

P_PAYLOAD_VERSION = 6
TEMPORAL_VERSION = 1
BLOCK = 4            # latent pixels per motion block side (32 frame pixels at f = 8)
SEARCH = 3           # vectors in [−SEARCH, SEARCH]² latent pixels
SUB = 4              # vectors in 1/SUB latent pixel (2 frame pixels at f = 8), bilinear in integers
MV_MAX = SEARCH * SUB
E_BOUNDS = (4, 8, 16, 32, 64, 128, 256)     # |ŷ_ref − μ_h|/Δ bucket bounds, in 1/16 Δ
NB_BOUNDS = (1, 3, 7, 15, 31)              # Σ over the 4 anchor neighbours and channels of min(|ŷ − ŷ_ref|/Δ, 3)
N_E, N_SH, N_LV, N_NB = len(E_BOUNDS) + 1, 8, 4, len(NB_BOUNDS) + 2     # the last NB bucket: an anchor
NB_ANCHOR = N_NB - 1
N_TABLES = 2                                # temporal modes 1 and 2: two tables, the block picks one
BASE_CELLS = N_E * N_SH * N_LV * 2 * N_NB
CELLS = N_TABLES * BASE_CELLS
W_ONE = 256
R_MIN, R_MAX = -2048, 2048
HOLD_MODE = 3          # block mode 3: table 2, no vector, and the decoder holds repeated content (reconstruct)
HOLD_BELOW_LEVEL = 8   # the encoder marks hold blocks only where every importance level is below this (< 0.5)
SKIP_TOL = 0.2         # ... and every element's source latent is within this (latent units) of the source the
                       # reference's levels stand for (the encoder's choice, not part of the format)
FUSION = "hyper"     # the decoder's posterior fusion params of P-frames (decode_p)
MV_BITS = 10.0       # the encoder's estimate of what a non-zero vector costs in side information (bits)
MV_PENALTY = 0.25    # the encoder's block-matching cost per 1/SUB pixel of |dy| + |dx| (bits, roughly)
_HDR = struct.Struct("<BBBBHHH")
_LEN = struct.Struct("<I")
_SIDE_INDEXES = 64 * MEAN_BUCKETS


_FLAGS = 0x80 | 0x40     # the version byte's extension flags (model.COLOUR_FLAG | model.MASKED_FLAG)


def payload_is_p(payload) -> bool:
    return len(payload) > 0 and payload[0] & ~_FLAGS == P_PAYLOAD_VERSION


@dataclass
class Reference:
    """The decoded state a P-frame refers to; integers only, identical at both ends."""
    k: torch.Tensor          # int32 (1, C, h, w): the levels
    level: torch.Tensor      # int32 (1, 1, h, w): the (padded) importance-level map
    quality: int
    z: torch.Tensor          # int32 (1, Z, h/4, w/4): ẑ
    index: int = -1          # the frame's index in its stream (container bookkeeping)
    y0: torch.Tensor | None = None   # the decoder's reconstructed latent (float; decoders only, see reconstruct)
    hold: torch.Tensor | None = None  # bool (1, 1, h, w): the P-frame's hold blocks (mode 3, see reconstruct)
    y: torch.Tensor | None = None    # the encoder's latent of the frame's source (float; encoders only)


class TemporalPrior:
    """The integer temporal prior table (module docstring, step 3): ``w`` (CELLS,) and ``r`` (CELLS,)."""

    def __init__(self, state: dict, device="cpu"):
        if int(state.get("version", -1)) != TEMPORAL_VERSION:
            raise ValueError(f"temporal prior format {int(state.get('version', -1))}, this build reads "
                             f"{TEMPORAL_VERSION}")
        w, r = state["w"], state["r"]
        if w.shape != (CELLS,) or r.shape != (CELLS,) or w.dtype != torch.int16 or r.dtype != torch.int16:
            raise ValueError("temporal prior: bad table shape or dtype")
        if int(w.min()) < 0 or int(w.max()) > W_ONE or int(r.min()) < R_MIN or int(r.max()) > R_MAX:
            raise ValueError("temporal prior: table values out of range")
        self.device = torch.device(device)
        self.w = w.to(self.device, torch.int64)
        self.r = r.to(self.device, torch.int64)

    @staticmethod
    def state(w, r) -> dict:
        return {"w": torch.as_tensor(w).round().clamp(0, W_ONE).to(torch.int16).reshape(CELLS),
                "r": torch.as_tensor(r).round().clamp(R_MIN, R_MAX).to(torch.int16).reshape(CELLS),
                "version": torch.tensor(TEMPORAL_VERSION)}

    @classmethod
    def initial_state(cls) -> dict:
        """An untrained table (trust the reference where it agrees with the hyperprior): the training's start."""
        shape = (N_E, N_SH, N_LV, 2, N_NB)
        e = torch.arange(N_E).view(N_E, 1, 1, 1, 1).expand(shape)
        exact = torch.arange(2).view(1, 1, 1, 2, 1).expand(shape)
        w = torch.where(e <= 4, torch.full_like(e, W_ONE), torch.full_like(e, W_ONE // 2))
        r = torch.where(exact == 1, torch.full_like(e, -400), torch.full_like(e, -64))
        # table 2 (mode 2): trust the reference more, with a narrower scale
        w2, r2 = torch.full_like(e, W_ONE), torch.where(exact == 1, torch.full_like(e, -700), torch.full_like(e, -300))
        return cls.state(torch.cat([w.reshape(-1), w2.reshape(-1)]), torch.cat([r.reshape(-1), r2.reshape(-1)]))

    @staticmethod
    def cells(mu_h, index_h, yr, lev_t, exact, tabs, nb):
        """The table cell of every element (int64) and d = ŷ_ref − μ_h; ``nb`` the neighbourhood bucket."""
        inv = tabs[0]
        lv = lev_t.long()
        d = yr - mu_h
        e16 = (d.abs() * inv[lv]) >> 40
        eb = torch.bucketize(e16, _bounds(E_BOUNDS, e16.device), right=True)      # = Σ_b [e16 ≥ b]
        sh = (index_h.to(torch.int64) // MEAN_BUCKETS) >> 3
        return (((eb * N_SH + sh) * N_LV + (lv >> 2)) * 2 + exact.to(torch.int64)) * N_NB + nb, d

    def params(self, mu_h, lam_h, index_h, yr, lev_t, exact, tabs, nb, table: int = 0):
        """(μ, λ) int64 of the temporal prior (table ``table``: mode table + 1) from the hyperprior's
        (μ_h, λ_h, table index) and ŷ_ref."""
        lam_delta = tabs[1]
        lv = lev_t.long()
        cell, d = self.cells(mu_h, index_h, yr, lev_t, exact, tabs, nb)
        cell = cell + table * BASE_CELLS
        w, r = self.w[cell], self.r[cell]
        mu = (mu_h + ((w * d + 128) >> 8)).clamp(-_intnet.MU_LIMIT, _intnet.MU_LIMIT)
        lam = (lam_delta[lv] + r).clamp(_intnet.LAMBDA_MIN, _intnet.LAMBDA_MAX)
        return mu, lam


# ------------------------------------------------------------------------------------------ integer helpers
@functools.lru_cache(maxsize=16)
def _bounds(bounds: tuple, device) -> torch.Tensor:
    """A bucket-bound tuple as an int64 tensor on ``device`` (for torch.bucketize)."""
    return torch.tensor(bounds, dtype=torch.int64, device=device)


def _lambda_delta(quality: int, schedule_version: int, levels: int, device) -> tuple:
    """invΔ = round(2^32/Δ) and round(256·ln Δ) per level (int64 on ``device``)."""
    inv = _intnet._device_tables(quality, schedule_version, levels, str(device))[1]
    return inv, _lam_delta_cpu(quality, schedule_version, levels).to(device)


_LD: dict = {}


def _lam_delta_cpu(quality, schedule_version, levels):
    key = (quality, schedule_version, levels)
    if key not in _LD:
        from .. import schedule
        delta = schedule.level_table(quality, levels, schedule_version).delta.double().numpy()
        _LD[key] = torch.tensor([int(math.floor(256.0 * math.log(float(d)) + 0.5)) for d in delta], dtype=torch.int64)
    return _LD[key]


def y_fixed(k, level, quality, schedule_version, levels, seed, dither_frame) -> torch.Tensor:
    """ŷ = Δ·(k − u) in 2^−12 latent units, int64, from integers only (Δ·2^20 and the 24-bit dither)."""
    d20 = _intnet._device_tables(quality, schedule_version, levels, str(k.device))[2][level.long()]
    u24 = _intnet.dither_bits(k.shape, seed, dither_frame, k.device).to(torch.int64)
    num = (k.to(torch.int64).clamp(-2**15, 2**15) << 16) - (u24 >> 8) + (1 << 15)      # (k − u)·2^16
    return ((num * d20 + (1 << 23)) >> 24).clamp(-_intnet.MU_LIMIT, _intnet.MU_LIMIT)


def align(x: torch.Tensor, mv: torch.Tensor, h: int, w: int):
    """``x`` (1, C, h, w) moved by the block vectors ``mv`` (nby, nbx, 2) in 1/SUB latent pixels: element (i, j)
    of block b takes x at (i, j) + mv[b], bilinear between the four nearest, the frame's edge replicated.
    Integer ``x`` gives exact integers (⌊(Σ weight·x + SUB²/2) / SUB²⌋, weights in 0..SUB); a float one (the
    encoder's search) the same formula in float. Also returns where the vector is zero."""
    dy, dx = _expand_blocks(mv[..., 0], h, w), _expand_blocks(mv[..., 1], h, w)
    i = torch.arange(h, device=mv.device).view(-1, 1)
    j = torch.arange(w, device=mv.device).view(1, -1)
    iy, fy = i + torch.div(dy, SUB, rounding_mode="floor"), dy % SUB
    ix, fx = j + torch.div(dx, SUB, rounding_mode="floor"), dx % SUB
    r0, r1 = iy.clamp(0, h - 1), (iy + 1).clamp(0, h - 1)
    c0, c1 = ix.clamp(0, w - 1), (ix + 1).clamp(0, w - 1)
    wy0, wy1, wx0, wx1 = SUB - fy, fy, SUB - fx, fx
    if not x.dtype.is_floating_point:
        wy0, wy1, wx0, wx1 = (v.to(x.dtype) for v in (wy0, wy1, wx0, wx1))
    acc = (wy0 * (wx0 * x[:, :, r0, c0] + wx1 * x[:, :, r0, c1]) + wy1 * (wx0 * x[:, :, r1, c0] + wx1 * x[:, :, r1, c1]))
    if x.dtype.is_floating_point:
        return acc / (SUB * SUB), (dy == 0) & (dx == 0)
    return (acc + SUB * SUB // 2) // (SUB * SUB), (dy == 0) & (dx == 0)


def align_nearest(x: torch.Tensor, mv: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``x`` moved by the block vectors to the nearest latent pixel (for the level map)."""
    dy, dx = _expand_blocks(mv[..., 0], h, w), _expand_blocks(mv[..., 1], h, w)
    i = torch.arange(h, device=mv.device).view(-1, 1)
    j = torch.arange(w, device=mv.device).view(1, -1)
    r = (i + torch.div(dy + SUB // 2, SUB, rounding_mode="floor")).clamp(0, h - 1)
    c = (j + torch.div(dx + SUB // 2, SUB, rounding_mode="floor")).clamp(0, w - 1)
    return x[:, :, r, c]


def _blocks(h, w):
    return -(-h // BLOCK), -(-w // BLOCK)


def _expand_blocks(b: torch.Tensor, h, w) -> torch.Tensor:
    return b.repeat_interleave(BLOCK, 0).repeat_interleave(BLOCK, 1)[:h, :w]


class _Frame:
    """Everything about a P-frame that both ends compute the same way once motion and ẑ are known."""

    def __init__(self, codec, ref: Reference, level, quality, seed, dither_frame, mv, mode, *, yr=None):
        """``yr``: ``y_fixed`` of the reference's levels when the caller already has it (the encoder prices
        many vector fields against one reference)."""
        self.codec, self.level, self.quality, self.seed, self.fi = codec, level, quality, seed, dither_frame
        sv, L = codec.schedule_version, codec.levels
        h, w = level.shape[-2:]
        if yr is None:
            yr = y_fixed(ref.k, ref.level, ref.quality, sv, L, seed, dither_frame)
        self.yr, still = align(yr, mv, h, w)
        lev_r = align_nearest(ref.level, mv, h, w)
        self.exact = (lev_r == level) & still
        self.tabs = _lambda_delta(quality, sv, L, level.device)
        self.mode = _expand_blocks(torch.where(mode == HOLD_MODE, 2, mode), h, w)[None, None]   # hold: table 2

    def int_params(self, mu, lam):
        c = self.codec
        return c.conditional.int_params(mu, lam, self.level, self.quality, c.schedule_version, c.levels, self.seed,
                                        self.fi)

    def neighbours(self, k, yk=None):
        """The neighbourhood bucket of every element from the anchors of ``k`` (int64 (1, 1, h, w)): how far
        the four anchor neighbours' decoded ŷ moved from the aligned reference, Σ over channels of
        min(⌊|ŷ − ŷ_ref|/Δ⌋, 3); NB_ANCHOR at the anchors themselves. ``yk``: ``y_fixed`` of ``k`` when the
        caller already has it."""
        c = self.codec
        h, w = k.shape[-2:]
        a = anchor_mask(h, w, k.device)
        if yk is None:
            yk = y_fixed(k, self.level, self.quality, c.schedule_version, c.levels, self.seed, self.fi)
        inv = self.tabs[0][self.level.long()]
        e = (((yk - self.yr).abs() * inv) >> 44).clamp(0, 3)
        e = torch.where(a, e, torch.zeros((), dtype=e.dtype, device=e.device)).sum(1, keepdim=True)
        p = F.pad(e, (1, 1, 1, 1))
        s = p[..., :-2, 1:-1] + p[..., 2:, 1:-1] + p[..., 1:-1, :-2] + p[..., 1:-1, 2:]
        nb = torch.bucketize(s, _bounds(NB_BOUNDS, s.device), right=True)          # = Σ_b [s ≥ b]
        return torch.where(a, torch.full_like(nb, NB_ANCHOR), nb)

    def both(self, prm_h, nb=NB_ANCHOR, hyper=None):
        """hyper (μ, λ, offset, index) of the hyperprior's (or context's) params and the same under each
        temporal table: [hyper, table 1, table 2] (modes 0, 1, 2). ``hyper``: the (offset, index) of
        ``prm_h`` when the caller already has them."""
        off_h, ix_h = self.int_params(*prm_h) if hyper is None else hyper
        out = [(*prm_h, off_h, ix_h)]
        for t in range(N_TABLES):
            mu_t, lam_t = self.codec.temporal.params(*prm_h, ix_h, self.yr, self.level, self.exact, self.tabs, nb, t)
            out.append((mu_t, lam_t, *self.int_params(mu_t, lam_t)))
        return out

    def chosen(self, prm_h, nb=NB_ANCHOR):
        modes = self.both(prm_h, nb)
        out = modes[0]
        for m in range(1, len(modes)):
            out = tuple(torch.where(self.mode == m, t, o) for o, t in zip(out, modes[m]))
        return out


def _check(codec):
    if codec.intnet is None or getattr(codec, "temporal", None) is None:
        raise ValueError(f"model {codec.name} has no integer temporal prior: it codes intra frames only (--gop 1)")


def _best_index(sym: np.ndarray, tables) -> tuple[int, float]:
    """The table index (of all scale × bucket) that codes ``sym`` in the fewest bits, and those bits."""
    s = np.ascontiguousarray(sym, dtype=np.int32).reshape(-1)
    if s.size == 0:
        return 0, 0.0
    vals, counts = np.unique(s, return_counts=True)
    ix = np.repeat(np.arange(_SIDE_INDEXES, dtype=np.int32), vals.size)
    b = tables.symbol_bits(np.tile(vals, _SIDE_INDEXES), ix).reshape(_SIDE_INDEXES, vals.size) @ counts
    i = int(np.argmin(b))
    return i, float(b[i])


def _z_temporal_indexes(dz: np.ndarray, tables) -> np.ndarray:
    """Per ẑ channel the zero-mean table (scale index·MEAN_BUCKETS + centre bucket) that codes ẑ − ẑ_ref best."""
    out = np.empty(dz.shape[1], np.int32)
    centre = MEAN_BUCKETS // 2
    cand = np.arange(64, dtype=np.int32) * MEAN_BUCKETS + centre
    for c in range(dz.shape[1]):
        vals, counts = np.unique(dz[:, c].reshape(-1), return_counts=True)
        b = tables.symbol_bits(np.tile(vals, cand.size), np.repeat(cand, vals.size)).reshape(cand.size, -1) @ counts
        out[c] = cand[int(np.argmin(b))] // MEAN_BUCKETS
    return out


# ------------------------------------------------------------------------------------------ motion (encoder)
def motion_search(k, u, yref_hat, delta_map, search: int = SEARCH) -> torch.Tensor:
    """(nby, nbx, 2) int64 block vectors (1/SUB latent pixels) minimising Σ log2(1 + |k − ⌊ŷ_ref(moved)/Δ + u + ½⌋|)
    + MV_PENALTY·|v|₁ (the levels the moved reference predicts: with the shared dither a static element is
    predicted exactly, which a distance in y would not reward): whole latent pixels first, then half and
    quarter pixels around the best (9 + 9 candidates; the full 7 × 7 fraction grid took a 416×240 P-frame's
    encode to 161 ms instead of 111 ms for 0.03–0.05 % fewer bytes on BasketballPass at q 4 and 10)."""
    _, _, h, w = k.shape
    nby, nbx = _blocks(h, w)
    ph, pw = nby * BLOCK - h, nbx * BLOCK - w
    kf = k.to(yref_hat.dtype)

    def block_cost(moved):
        c = torch.log2(1 + (kf - torch.floor(moved / delta_map + u + 0.5)).abs()).sum(1, keepdim=True)
        return F.avg_pool2d(F.pad(c, (0, pw, 0, ph)), BLOCK)[0, 0] * BLOCK * BLOCK

    pad = F.pad(yref_hat, (search, search, search, search), mode="replicate")
    costs, vecs = [], []
    for dy in range(-search, search + 1):
        for dx in range(-search, search + 1):
            s = pad[:, :, search + dy:search + dy + h, search + dx:search + dx + w]
            costs.append(block_cost(s) + MV_PENALTY * SUB * (abs(dy) + abs(dx)))
            vecs.append((dy * SUB, dx * SUB))
    v = torch.tensor(vecs, dtype=torch.int64, device=k.device)
    cost = torch.stack(costs)
    best = v[cost.argmin(0)]
    if SUB == 1:
        return best, best
    frac = best
    step = SUB // 2
    while step >= 1:       # half-pixel steps around the best whole pixel, then quarter-pixel ones
        costs, cands = [], []
        for oy in (-step, 0, step):
            for ox in (-step, 0, step):
                cand = (frac + torch.tensor([oy, ox], device=k.device)).clamp(-search * SUB, search * SUB)
                costs.append(block_cost(align(yref_hat, cand, h, w)[0]) + MV_PENALTY * cand.abs().sum(-1))
                cands.append(cand)
        pick = torch.stack(costs).argmin(0)
        frac = torch.stack(cands)[pick, torch.arange(nby).view(-1, 1), torch.arange(nbx).view(1, -1)]
        step //= 2
    return best, frac


# ------------------------------------------------------------------------------------------ encode / decode
@torch.no_grad()
def analyse(codec, frame, levels_u8, quality: int, ref: Reference, *, seed: int = 0, dither_frame: int = 0) -> dict:
    """The encoder's view of a P-frame before the mode decision: y's levels k, ẑ, the block vectors, and
    for every element the hyperprior's (or context's) and the temporal prior's (μ, λ, offset, index), the
    temporal table's cell and the exact block bits of both (also what the temporal training reads)."""
    _check(codec)
    x = codec.frame_tensor(frame)
    H, W = np.asarray(frame).shape[:2]
    level = codec.level_map(levels_u8, H, W)
    _check_ref(codec, ref, level)
    table = codec.level_table(quality)
    delta = table.delta.to(codec.device)
    gc = codec.conditional
    with stage("analysis"):
        y = codec.g_a(x)
    with stage("hyperprior+context"):
        cond, _ = codec.condition(level, table)
        zi = torch.round(codec.hyper.analysis(y, cond)).to(torch.int32)
        k = gc.quantize(y, level, delta, seed, dither_frame)
    h, w = level.shape[-2:]
    # motion against the reference's decoded latent (float at the encoder only: the vectors are sent)
    ref_delta = codec.level_table(ref.quality).delta.to(codec.device)
    yref_hat = gc.dequantize(ref.k, ref.level, ref_delta, seed, dither_frame)
    u = ops.hashed_dither(tuple(k.shape), seed, dither_frame, device=k.device)
    nby, nbx = _blocks(h, w)
    with stage("hyperprior+context"):
        prm_h = codec.intnet.synthesis(zi.to(torch.int64), _intnet.integer_condition(level, quality,
                                                                                      codec.schedule_version,
                                                                                      codec.levels))
        prm_c = (codec.context_params(prm_h, k, cond, level, quality, seed, dither_frame)[0] if codec.has_context
                 else None)
    C = k.shape[1]

    def block_bits(prm):
        sb = gc.symbol_bits((k - prm[2]).cpu().numpy(), prm[3].cpu().numpy()).reshape(C, h, w).sum(0)
        sb = np.pad(sb, ((0, nby * BLOCK - h), (0, nbx * BLOCK - w)))
        return sb.reshape(nby, BLOCK, nbx, BLOCK).sum((1, 3))

    # what every candidate shares: the reference's and this frame's ŷ in fixed point, the hyperprior's (and
    # context's) coding parameters (identical integers to recomputing them per candidate)
    sv, L = codec.schedule_version, codec.levels
    yr0 = y_fixed(ref.k, ref.level, ref.quality, sv, L, seed, dither_frame)
    yk = y_fixed(k, level, quality, sv, L, seed, dither_frame) if codec.has_context else None
    ip_h = gc.int_params(*prm_h, level, quality, sv, L, seed, dither_frame)
    ip_c = gc.int_params(*prm_c, level, quality, sv, L, seed, dither_frame) if codec.has_context else None

    a = anchor_mask(h, w, codec.device) if codec.has_context else None

    def evaluate(mv):
        fr = _Frame(codec, ref, level, quality, seed, dither_frame, mv, torch.ones((nby, nbx), dtype=torch.int64,
                                                                                   device=codec.device), yr=yr0)
        if codec.has_context:
            nb = fr.neighbours(k, yk)
            modes = [tuple(torch.where(a, p, q) for p, q in zip(ma, mb))
                     for ma, mb in zip(fr.both(prm_h, hyper=ip_h), fr.both(prm_c, nb, hyper=ip_c))]
        else:
            modes, nb = fr.both(prm_h, hyper=ip_h), NB_ANCHOR
        return fr, modes, nb

    # candidate vectors per block (none, whole pixels, fractions): the one with the fewest exact bits
    cands = [torch.zeros((nby, nbx, 2), dtype=torch.int64, device=codec.device),
             *motion_search(k, u, yref_hat, delta[level.long()])]
    cost = np.stack([np.min([block_bits(m) for m in evaluate(mv)[1][1:]], 0)
                     + MV_BITS * (mv != 0).any(-1).cpu().numpy() for mv in cands])
    pick = torch.from_numpy(cost.argmin(0)).to(codec.device)
    mv = torch.stack(cands)[pick, torch.arange(nby).view(-1, 1), torch.arange(nbx).view(1, -1)]
    fr, modes, nb = evaluate(mv)
    hp = modes[0]
    bits = [block_bits(m) for m in modes]
    cell, d = TemporalPrior.cells(hp[0], hp[3], fr.yr, level, fr.exact, fr.tabs, nb)
    u = u.double()
    return {"k": k, "y": y, "z": zi, "level": level, "mv": mv, "prm_h": prm_h, "prm_c": prm_c, "modes": modes,
            "block_bits": bits, "cell": cell, "d": d, "mu_h": hp[0], "lam_h": hp[1], "u": u,
            "lam_delta": fr.tabs[1][level.long()].expand_as(k), "nb": nb}


@torch.no_grad()
@stage("motion")
def encode_p(codec, frame, levels_u8, quality: int, ref: Reference, *, seed: int = 0, dither_frame: int = 0,
             steps: int | None = None, index: int = -1, stats: dict | None = None,
             colour: bool = True, skip_tol: float | None = None) -> tuple[bytes, Reference]:
    """One P-frame's payload (version 6) and the reference state the decoder will have after it;
    ``colour``: add the colour layer (as ``Codec.encode_frame`` does); ``skip_tol``: the encoder's skip
    tolerance in latent units (None: ``SKIP_TOL``; 0: no skip blocks)."""
    from .model import COLOUR_FLAG, MAX_STEPS, colour_extension
    K = codec.steps if steps is None else int(steps)
    if not 0 <= K <= MAX_STEPS:
        raise ValueError(f"steps must be in 0..{MAX_STEPS}")
    an = analyse(codec, frame, levels_u8, quality, ref, seed=seed, dither_frame=dither_frame)
    k, zi, level, mv, prm_h, prm_c, bits = (an[n] for n in ("k", "z", "level", "mv", "prm_h", "prm_c", "block_bits"))
    gc = codec.conditional
    h, w = level.shape[-2:]
    a = anchor_mask(h, w, codec.device)
    mode = torch.from_numpy(np.stack(bits).argmin(0).astype(np.int64)).to(codec.device)
    mv = mv * (mode > 0)[..., None]
    if skip_tol is None:
        skip_tol = SKIP_TOL
    held = None
    if skip_tol > 0 and ref.quality == quality and ref.y is not None and ref.y.shape == an["y"].shape:
        # skip (hold blocks, mode 3): low-importance blocks whose *source* latent stayed within skip_tol (latent
        # units, every element) of the source the reference's levels stand for, at the same importance
        # levels, take the
        # reference's levels k (nearly free under the temporal table's "exact" cells) and the decoder keeps
        # the reference's reconstruction there: static generated content holds still instead of being
        # re-quantized and re-synthesised differently in every frame. The encoder's reference keeps that
        # source latent, so a slow drift is bounded by skip_tol, never accumulated. (A tolerance relative to
        # the step Δ was tried first: Δ is so coarse at low levels that moving content passed, and holding it
        # cost 0.5-1.3 dB and more flicker on DAVIS pans — there the hyperprior's mean tracks the motion.)
        ph, pw = -h % BLOCK, -w % BLOCK
        dev = (an["y"] - ref.y).abs().amax(1, keepdim=True)
        bad = ((dev > skip_tol) | (level != ref.level) | (level >= HOLD_BELOW_LEVEL)).float()
        still = F.max_pool2d(F.pad(bad, (0, pw, 0, ph), value=0), BLOCK)[0, 0] == 0
        mode = torch.where(still, torch.full_like(mode, HOLD_MODE), mode)
        mv = mv * (~still)[..., None]
        if bool(still.any()):
            held = _expand_blocks(still, h, w)[None, None]
            k = torch.where(held, ref.k, k)
            if codec.has_context:        # the context of the other half sees the held anchors
                cond, _ = codec.condition(level, codec.level_table(quality))
                prm_c = codec.context_params(prm_h, k, cond, level, quality, seed, dither_frame)[0]
    # the final frame state with the chosen modes and vectors (what the decoder rebuilds)
    fr = _Frame(codec, ref, level, quality, seed, dither_frame, mv, mode)
    if codec.has_context:
        _, _, off_a, ix_a = fr.chosen(prm_h)
        mu_c, lam_c, off_b, ix_b = fr.chosen(prm_c, fr.neighbours(k))     # the final vectors' neighbourhoods
        streams = [((k - off_a)[a.expand_as(k)], ix_a[a.expand_as(k)]),
                   ((k - off_b)[~a.expand_as(k)], ix_b[~a.expand_as(k)])]
    else:
        _, _, off, ix = fr.chosen(prm_h)
        streams = [(k - off, ix)]
    y_bytes = [gc.compress(s.cpu().numpy(), i.cpu().numpy()) for s, i in streams]
    # side: modes, dy, dx of every block, each with its best table
    side = [mode.cpu().numpy(), mv[..., 0].cpu().numpy(), mv[..., 1].cpu().numpy()]
    sidx = [_best_index(s, gc.tables)[0] for s in side]
    side_sym = np.concatenate([s.reshape(-1) for s in side]).astype(np.int32)
    side_ix = np.concatenate([np.full(s.size, i, np.int32) for s, i in zip(side, sidx)])
    side_bytes = gc.compress(side_sym, side_ix)
    # ẑ: intra or against ẑ_ref, the smaller
    zn = zi.cpu().numpy()
    z_intra = codec.z_prior.compress(zn)
    dz = zn.astype(np.int64) - ref.z.cpu().numpy().astype(np.int64)
    zsc = _z_temporal_indexes(dz, gc.tables)
    zix = np.broadcast_to((zsc.astype(np.int32) * MEAN_BUCKETS + MEAN_BUCKETS // 2).reshape(1, -1, 1, 1), dz.shape)
    z_temp = gc.compress(np.clip(dz, -2**30, 2**30).astype(np.int32), zix) if np.abs(dz).max(initial=0) < 2**30 else None
    flags = 2 if codec.has_context else 0
    if z_temp is not None and len(z_temp) + len(zsc) < len(z_intra):
        z_bytes, flags, zhead = z_temp, flags | 1, zsc.astype(np.uint8).tobytes()
    else:
        z_bytes, zhead = z_intra, b""
    lengths = [len(side_bytes), len(z_bytes)] + [len(b) for b in y_bytes[:-1]]
    payload = (_HDR.pack(P_PAYLOAD_VERSION | (COLOUR_FLAG if colour else 0), K, flags, 0, *sidx)
               + (colour_extension(frame) if colour else b"") + zhead + b"".join(_LEN.pack(n) for n in lengths)
               + side_bytes + z_bytes + b"".join(y_bytes))
    if stats is not None:
        stats.update({"temporal_blocks": int((mode > 0).sum()), "hold_blocks": int((mode == HOLD_MODE).sum()),
                      "blocks": int(mode.numel()), "z_temporal": bool(flags & 1),
                      # what the same frame would take as an I-frame (its exact y bits under the hyperprior
                      # and context, the ẑ stream, headers): callers code the frame intra when it is smaller
                      "intra_estimate": int(math.ceil(float(bits[0].sum()) / 8)) + len(z_intra) + 24,
                      "side_bytes": len(side_bytes), "z_bytes": len(z_bytes), "y_bytes": sum(map(len, y_bytes))})
    hold = _expand_blocks(mode == HOLD_MODE, h, w)[None, None]
    y_src = an["y"] if held is None else torch.where(held, ref.y, an["y"])
    return payload, Reference(k.to(torch.int32), level, int(quality), zi, index, hold=hold, y=y_src)


def _check_ref(codec, ref: Reference, level):
    h, w = level.shape[-2:]
    C = codec.latent_channels
    if (ref is None or tuple(ref.k.shape) != (1, C, h, w) or tuple(ref.level.shape) != (1, 1, h, w)
            or tuple(ref.z.shape) != (1, codec.z_prior.channels, h // HYPER_FACTOR, w // HYPER_FACTOR)):
        raise ValueError("the reference frame does not match this frame's size or model")


def _split(codec, payload: bytes):
    """(K, flags, side table indexes, ẑ scale indexes or None, streams, colour layer or None)."""
    from .model import MASKED_FLAG, MAX_STEPS, PayloadError, payload_extensions
    p = bytes(payload)
    if len(p) < _HDR.size:
        raise PayloadError(f"P-frame payload of {len(p)} bytes is shorter than its header")
    version, K, flags, zero, *sidx = _HDR.unpack_from(p)
    if (version & ~_FLAGS != P_PAYLOAD_VERSION or version & MASKED_FLAG or K > MAX_STEPS or flags > 3 or zero != 0
            or max(sidx) >= _SIDE_INDEXES):
        raise PayloadError("P-frame payload header is inconsistent (version, steps, flags or table index)")
    if bool(flags & 2) != codec.has_context:
        raise PayloadError("P-frame payload's stream layout does not match the model")
    layer, _, pos = payload_extensions(p, _HDR.size, codec.levels)
    Z = codec.z_prior.channels
    zsc = None
    if flags & 1:
        if len(p) < pos + Z:
            raise PayloadError("P-frame payload is cut in its header")
        zsc = np.frombuffer(p, np.uint8, Z, pos).astype(np.int32)
        if zsc.max(initial=0) >= 64:
            raise PayloadError("P-frame payload: ẑ scale index out of range")
        pos += Z
    n = 2 + (1 if flags & 2 else 0)
    if len(p) < pos + 4 * n:
        raise PayloadError("P-frame payload is cut in its header")
    lengths = [_LEN.unpack_from(p, pos + 4 * i)[0] for i in range(n)]
    pos += 4 * n
    if sum(lengths) > len(p) - pos:
        raise PayloadError("P-frame payload header is inconsistent (lengths out of range)")
    ends = np.cumsum([pos, *lengths]).tolist()
    parts = [p[a:b] for a, b in zip(ends[:-1], ends[1:])] + [p[ends[-1]:]]
    return K, flags, sidx, zsc, parts, layer


@torch.no_grad()
@stage("entropy coding")
def decode_p(codec, payload: bytes, levels_u8, quality: int, ref: Reference | None, *, seed: int = 0,
             dither_frame: int = 0, height: int, width: int, index: int = -1, fusion: str | None = None):
    """(k, params, K, Reference) of a P-frame: the entropy half (everything that decides symbols, integers
    only); ``codec.reconstruct(k, params, ...)`` makes the picture. ``params``: the (μ, λ) the posterior
    fusion uses — ``fusion`` "hyper" (default, ``FUSION``): the hyperprior's and context's, as an I-frame
    of the same levels would have them (so a P-frame reconstructs exactly as that I-frame); "temporal": the
    temporal prior's (pulls the reconstruction toward the reference where the prior is sure)."""
    from .model import PayloadError
    _check(codec)
    level = codec.level_map(levels_u8, height, width)
    try:
        _check_ref(codec, ref, level)
    except ValueError as exc:
        raise PayloadError(f"P-frame without a usable reference: {exc}") from None
    K, flags, sidx, zsc, parts, _ = _split(codec, payload)
    gc = codec.conditional
    h, w = level.shape[-2:]
    C = codec.latent_channels
    nby, nbx = _blocks(h, w)
    nb = nby * nbx
    try:
        side = gc.decompress(parts[0], np.repeat(np.asarray(sidx, np.int32), nb)).astype(np.int64)
        mode, dy, dx = side[:nb], side[nb:2 * nb], side[2 * nb:]
        if mode.min() < 0 or mode.max() > HOLD_MODE or np.abs(dy).max() > MV_MAX or np.abs(dx).max() > MV_MAX:
            raise PayloadError("corrupt P-frame payload: block mode or motion vector out of range")
        dev = codec.device
        mode_t = torch.from_numpy(mode.reshape(nby, nbx)).to(dev)
        moving = (mode_t > 0) & (mode_t < HOLD_MODE)
        mv = torch.from_numpy(np.stack([dy, dx], -1).reshape(nby, nbx, 2)).to(dev) * moving[..., None]
        zshape = (1, codec.z_prior.channels, h // HYPER_FACTOR, w // HYPER_FACTOR)
        if zsc is not None:
            zix = np.broadcast_to((zsc * MEAN_BUCKETS + MEAN_BUCKETS // 2).reshape(1, -1, 1, 1), zshape)
            dz = gc.decompress(parts[1], zix).astype(np.int64).reshape(zshape)
            zn = np.clip(ref.z.cpu().numpy().astype(np.int64) + dz, -2**15, 2**15).astype(np.int32)
        else:
            zn = codec.z_prior.decompress(parts[1], zshape)
        zi = torch.from_numpy(np.ascontiguousarray(zn)).to(dev)
        fr = _Frame(codec, ref, level, quality, seed, dither_frame, mv, mode_t)
        cond_int = _intnet.integer_condition(level, quality, codec.schedule_version, codec.levels)
        with stage("hyperprior+context"):
            prm_h = codec.intnet.synthesis(zi.to(torch.int64), cond_int)
        if not codec.has_context:
            mu, lam, off, ix = fr.chosen(prm_h)
            sym = gc.decompress(parts[2], ix.cpu().numpy())
            k = torch.from_numpy(sym).to(dev).view(1, C, h, w) + off
            hyper = prm_h
        else:
            a = anchor_mask(h, w, dev).expand(1, C, h, w)
            mu_a, lam_a, off, ix = fr.chosen(prm_h)
            k = torch.zeros((1, C, h, w), dtype=torch.int32, device=dev)
            k[a] = torch.from_numpy(gc.decompress(parts[2], ix[a].cpu().numpy()).reshape(-1)).to(dev) + off[a]
            cond, _ = codec.condition(level, codec.level_table(quality))
            prm_c, _, _ = codec.context_params(prm_h, k, cond, level, quality, seed, dither_frame)
            mu_b, lam_b, off, ix = fr.chosen(prm_c, fr.neighbours(k))
            k[~a] = torch.from_numpy(gc.decompress(parts[3], ix[~a].cpu().numpy()).reshape(-1)).to(dev) + off[~a]
            mu, lam = torch.where(a, mu_a, mu_b), torch.where(a, lam_a, lam_b)
            hyper = (torch.where(a, prm_h[0], prm_c[0]), torch.where(a, prm_h[1], prm_c[1]))
    except BitstreamError as exc:
        raise PayloadError(f"corrupt P-frame payload: {exc}") from exc
    k = k.to(torch.int32)
    prm = hyper if (fusion or FUSION) == "hyper" else (mu, lam)
    hold = _expand_blocks(mode_t == HOLD_MODE, h, w)[None, None]
    return k, prm, K, Reference(k, level, int(quality), zi.to(torch.int32), index, hold=hold)


@torch.no_grad()
def intra_reference(codec, payload: bytes, k: torch.Tensor, levels_u8, quality: int, *, height: int, width: int,
                    index: int = -1, source=None) -> Reference:
    """The reference state after an I-frame: its decoded levels ``k`` (``Codec.decode_levels``) and its ẑ,
    read again from the payload (the ẑ stream alone: cheap)."""
    level = codec.level_map(levels_u8, height, width)
    z_bytes = codec._split_payload(payload)[1]
    h, w = level.shape[-2:]
    try:
        zi = codec.z_prior.decompress(z_bytes, (1, codec.z_prior.channels, h // HYPER_FACTOR, w // HYPER_FACTOR))
    except BitstreamError as exc:
        from .model import PayloadError
        raise PayloadError(f"corrupt frame payload: {exc}") from exc
    with stage("analysis"):        # encoders: the source latent for the hold decision
        y = codec.g_a(codec.frame_tensor(source)) if source is not None else None
    return Reference(k.to(torch.int32), level, int(quality), torch.from_numpy(zi).to(codec.device), index, y=y)


def hold_where(ref: Reference | None, k, level, quality: int, hold: torch.Tensor | None):
    """The ``Codec.reconstruct(hold=...)`` argument of a P-frame: the reference's reconstructed latent and
    where to keep it — in the P-frame's hold blocks (``hold``, mode 3), wherever the element's level and
    importance level repeat the reference's (the same quantization bin), or None."""
    if hold is None or ref is None or ref.y0 is None or ref.y0.shape != k.shape or ref.quality != quality:
        return None
    return ref.y0, (ref.k == k) & (ref.level == level) & hold


@torch.no_grad()
def reconstruct(codec, k, prm, levels_u8, quality: int, *, seed: int = 0, dither_frame: int = 0, height: int,
                width: int, steps: int, ref: Reference | None = None, hold: torch.Tensor | None = None,
                realism: float = 0.0):
    """``Codec.reconstruct`` that also returns the reconstructed latent, and, for a P-frame (``ref``: the
    reference with its y₀, ``hold``: the P-frame's hold map, ``Reference.hold`` from ``decode_p``), keeps
    the reference's latent in the hold blocks wherever the element's levels repeat the reference's
    (:func:`hold_where`). The encoder marks hold blocks (mode 3) only in low-importance regions whose source
    did not change, so static generated content is not re-synthesised differently in every frame (less
    flicker), while moving content and the ROI reconstruct as in an I-frame. Pixels only: nothing here
    decides a symbol. (uint8 frame, latent)."""
    level = codec.level_map(levels_u8, height, width)
    return codec.reconstruct(k, prm, levels_u8, quality, seed=seed, dither_frame=dither_frame, height=height,
                             width=width, steps=steps, realism=realism,
                             hold=hold_where(ref, k, level, quality, hold), return_latent=True)


# ------------------------------------------------------------------------------------------ sequences
MAX_REFERENCES = 64     # the most reference states a sequence coder keeps (the stream's acknowledged frames)


class SequenceEncoder:
    """The frames of one stream → payloads, intra or P (a frame codec with state, usable without a container).

    With ``gop`` > 1 (a model with a temporal prior) frames between intra frames are P-frames; an intra frame
    comes every ``gop`` frames, at a scene cut (a P-frame whose blocks almost all chose intra coding), where a
    P-frame would not be smaller than the same frame intra, on request (:meth:`request_intra`) and when the
    requested reference is not kept; ``skip_tol``: the skip tolerance of :func:`encode_p`. ``encode(..., ref=i)``
    predicts from frame i (the stream: the last frame
    the client acknowledged); by default from the frame before. ``keep``: how many reference states to keep."""

    SCENE_CUT = 0.1          # a P-frame with fewer temporal blocks than this share is a scene cut

    def __init__(self, codec, *, gop: int = 1, seed: int = 0, dither_frame: int = 0, steps: int | None = None,
                 rdoq: float | None = None, colour: bool = True, masked: int = 0, keep: int = 1,
                 skip_tol: float | None = None, refine: int = 0):
        if isinstance(gop, bool) or not isinstance(gop, int) or gop < 1:
            raise ValueError(f"gop must be a positive integer, got {gop!r}")
        if gop > 1:
            _check(codec)
            if masked:
                raise ValueError("masked levels (--masked) are coded in intra frames only: use --gop 1")
        if not 1 <= int(keep) <= MAX_REFERENCES:
            raise ValueError(f"keep must be in 1..{MAX_REFERENCES}")
        self.codec, self.gop, self.seed, self.dither_frame = codec, gop, int(seed), int(dither_frame)
        self.steps, self.rdoq, self.colour, self.masked, self.keep = steps, rdoq, bool(colour), int(masked), int(keep)
        self.skip_tol = skip_tol
        self.refine = int(refine)                # latent refinement steps of intra frames (codec.refine)
        self.refs: dict[int, Reference] = {}     # frame index → the decoder's state after it
        self.last = None                         # the index of the last frame coded
        self.since_intra = 0
        self._intra_requested = False

    def request_intra(self):
        """Make the next frame an intra frame."""
        self._intra_requested = True

    def forget(self, index: int):
        """Never predict from frame ``index`` again (the stream: it was lost)."""
        self.refs.pop(int(index), None)

    def encode(self, frame, levels_u8, quality: int, *, index: int, ref: int | None = None,
               intra: bool = False) -> tuple[bytes, int | None, dict]:
        """(payload, the index of the reference frame or None for an intra frame, stats)."""
        c, H, W = self.codec, *np.asarray(frame).shape[:2]
        ref = self.last if ref is None else int(ref)
        payload, state, pstats, used = None, None, {}, None
        if (self.gop > 1 and not (intra or self._intra_requested) and ref in self.refs and ref < index
                and self.since_intra < self.gop):
            payload, state = encode_p(c, frame, levels_u8, quality, self.refs[ref], seed=self.seed,
                                      dither_frame=self.dither_frame, steps=self.steps, index=index, stats=pstats,
                                      colour=self.colour, skip_tol=self.skip_tol)
            if pstats["temporal_blocks"] < self.SCENE_CUT * pstats["blocks"]:
                payload, pstats = None, {"scene_cut": True}
            elif len(payload) >= pstats["intra_estimate"]:     # prediction does not pay: an I-frame
                payload, pstats = None, {"p_not_smaller": True}
            else:
                used, self.since_intra = ref, self.since_intra + 1
        if payload is None:
            payload = c.encode_frame(frame, levels_u8, quality, seed=self.seed, dither_frame=self.dither_frame,
                                     steps=self.steps, rdoq=self.rdoq, colour=self.colour, masked=self.masked,
                                     refine=self.refine)
            self._intra_requested, self.since_intra = False, 1
            if self.gop > 1:             # the decoder's state after this frame: its decoded levels and ẑ
                k = c.decode_levels(payload, levels_u8, quality, seed=self.seed, dither_frame=self.dither_frame,
                                    height=H, width=W).k
                state = intra_reference(c, payload, k, levels_u8, quality, height=H, width=W, index=index,
                                        source=frame)
        self.last = int(index)
        if state is not None:
            _remember(self.refs, int(index), state, self.keep)
        return payload, used, pstats


class DecodedFrame(NamedTuple):
    """What :meth:`SequenceDecoder.decode` returns: the picture and the frame's integer levels k (None for a
    stand-in codec without latent levels)."""
    frame: np.ndarray
    k: torch.Tensor | None


class EntropyFrame(NamedTuple):
    """A frame after the entropy half of its decode (:meth:`SequenceDecoder.entropy`): everything that
    decides a symbol is done; :meth:`SequenceDecoder.picture` makes the picture."""
    index: int
    quality: int
    levels_u8: np.ndarray
    k: torch.Tensor | None          # int32 (1, C, h, w); None for a stand-in codec (``frame`` is its picture)
    prm: tuple | None               # the entropy model's parameters the reconstruction uses
    steps: int                      # K the payload asks for
    masked: int                     # the payload's masked levels M
    layer: bytes | None             # the colour layer
    state: Reference | None         # this frame's reference state (its y₀ is set by ``picture``)
    prev: Reference | None          # the reference a P-frame was predicted from (its y₀: the hold blocks)
    frame: np.ndarray | None = None


class SequenceDecoder:
    """Payloads of one stream → pictures, intra or P, keeping the reference states P-frames need (the
    decoding half of :class:`SequenceEncoder`). A P-frame whose reference was not decoded (decoding started
    later, or it was lost) raises ``PayloadError``; decoding can start at any intra frame.

    :meth:`decode` is :meth:`picture` of :meth:`entropy`. The two halves may run in two threads, the
    entropy half ahead (``pipeline.decode_video``): it needs only the integer states of the frames before,
    which it keeps itself; ``picture`` must see the frames in the order ``entropy`` saw them (a P-frame's
    hold blocks use its reference's reconstructed latent)."""

    def __init__(self, codec, *, seed: int = 0, dither_frame: int = 0, height: int, width: int,
                 steps: int | None = None, realism: float = 0.0, hold: bool = True, keep: int = 1):
        if not 1 <= int(keep) <= MAX_REFERENCES:
            raise ValueError(f"keep must be in 1..{MAX_REFERENCES}")
        self.codec, self.seed, self.dither_frame = codec, int(seed), int(dither_frame)
        self.height, self.width, self.steps, self.realism = int(height), int(width), steps, realism
        self.hold, self.keep = bool(hold), int(keep)
        self.refs: dict[int, Reference] = {}

    def forget(self, index: int | None = None):
        """Drop the state of frame ``index`` (None: all)."""
        if index is None:
            self.refs.clear()
        else:
            self.refs.pop(int(index), None)

    @torch.no_grad()
    def decode(self, payload: bytes, levels_u8, quality: int, *, index: int, ref: int | None = None) -> DecodedFrame:
        """Frame ``index`` (``ref``: its reference's index, None for an intra frame; the packet says)."""
        return self.picture(self.entropy(payload, levels_u8, quality, index=index, ref=ref))

    @torch.no_grad()
    def entropy(self, payload: bytes, levels_u8, quality: int, *, index: int, ref: int | None = None) -> EntropyFrame:
        """The entropy half of frame ``index``: its levels, parameters and reference state (kept for the
        P-frames after it). ``PayloadError`` when the payload is corrupt or its reference is missing."""
        from .model import PayloadError
        c, H, W = self.codec, self.height, self.width
        prev = None
        if ref is None:
            if payload_is_p(payload):
                raise PayloadError("a P-frame payload in a packet that names no reference frame")
            if not hasattr(c, "decode_levels"):     # a stand-in codec without latent levels (stream --codec jpeg)
                frame = c.decode_frame(payload, levels_u8, quality, seed=self.seed, dither_frame=self.dither_frame,
                                       height=H, width=W, steps=self.steps, realism=self.realism)
                return EntropyFrame(int(index), int(quality), levels_u8, None, None, 0, 0, None, None, None, frame)
            k, prm, K, masked = c.decode_levels(payload, levels_u8, quality, seed=self.seed,
                                                dither_frame=self.dither_frame, height=H, width=W)
            layer = c._split_payload(payload)[3]
            state = (intra_reference(c, payload, k, levels_u8, quality, height=H, width=W, index=index)
                     if getattr(c, "temporal", None) is not None else None)
        else:
            if getattr(c, "temporal", None) is None:
                raise PayloadError(f"a P-frame, and the model {c.name} has no temporal prior")
            if not payload_is_p(payload):
                raise PayloadError(f"a packet with reference frame {ref} whose payload is not a P-frame")
            prev = self.refs.get(int(ref))
            if prev is None:
                raise PayloadError(f"its reference frame {ref} is not available (decoding starts at an intra frame)")
            k, prm, K, state = decode_p(c, payload, levels_u8, quality, prev, seed=self.seed,
                                        dither_frame=self.dither_frame, height=H, width=W, index=index)
            layer, masked = _split(c, payload)[5], 0
        if state is not None:
            _remember(self.refs, int(index), state, self.keep)
        return EntropyFrame(int(index), int(quality), levels_u8, k, prm, int(K), int(masked), layer, state, prev)

    @torch.no_grad()
    def picture(self, e: EntropyFrame) -> DecodedFrame:
        """The generative half: the picture of a frame :meth:`entropy` decoded (pixels only: nothing here
        decides a symbol)."""
        from .model import apply_colour_layer
        if e.k is None:
            return DecodedFrame(e.frame, None)
        c, H, W = self.codec, self.height, self.width
        level = c.level_map(e.levels_u8, H, W)
        hold = (hold_where(e.prev, e.k, level, e.quality, e.state.hold)
                if (e.prev is not None and self.hold) else None)
        rec, y0 = c.reconstruct(e.k, e.prm, e.levels_u8, e.quality, seed=self.seed, dither_frame=self.dither_frame,
                                height=H, width=W, steps=e.steps if self.steps is None else self.steps,
                                realism=self.realism, masked=e.masked, hold=hold, return_latent=True)
        if e.state is not None:
            e.state.y0 = y0
        return DecodedFrame(apply_colour_layer(rec, e.layer, H, W), e.k)


def _remember(refs: dict, index: int, state: Reference, keep: int):
    refs[index] = state
    while len(refs) > keep:
        del refs[min(refs)]
