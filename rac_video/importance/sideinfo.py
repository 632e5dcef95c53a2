"""Importance levels at latent resolution and the side information that carries them (docs/design.md §3.6, §6.4).

Both ends of the codec must use the *same* integer level map ℓ ∈ {0 … L−1}. The decoder gets it
from the packet's side information, in one of two encodings:

* :class:`RasterLevels` — the level raster itself, losslessly compressed (see ``_RASTER_METHODS``).
* :class:`FoveatedGaze` — gaze points plus a foveation profile quantised to integers (radii, in
  quarter frame pixels, at which each level starts); the decoder regenerates the raster at any
  latent resolution with integer-only arithmetic (int64 numpy, no floats), so encoder and decoder
  agree bit for bit on every machine.

Byte layout (all integers little-endian)::

    byte 0   version (VERSION = 1)
    byte 1   kind: 1 = raster, 2 = foveated gaze
    raster:  L u8, h u16, w u16, method u8, body
             method 0: constant, body = one level byte
             method 1: zlib(raw level bytes)
             method 2: zlib(left-neighbour differences mod 256)
             method 3: zlib(row-wise run-length pairs: (level, run-1) bytes)
             method 4: row transitions coded against the row above, adaptive range coder
                       (``_levelcode``; rasters of at most MAX_TRANSITION_CELLS cells)
    gaze:    L u8, floor u8, H u16, W u16, K u8 points, K × (x u16, y u16) in 1/4 frame pixels,
             (L−1−floor) × radius u16 in 1/4 frame pixels, non-increasing (level floor+1 … L−1)

Anything else raises :class:`SideInfoError` (a ``ValueError``).
"""
from __future__ import annotations

import math
import struct
import zlib

import numpy as np

from ..errors import InvalidInputError
from . import _levelcode
from . import foveation as fov

__all__ = ["VERSION", "KIND_RASTER", "KIND_GAZE", "MAX_LEVELS", "SideInfoError", "SideInfo", "RasterLevels",
           "FoveatedGaze", "levels_from_importance", "from_bytes", "area_weights"]

VERSION = 1
KIND_RASTER = 1
KIND_GAZE = 2
MAX_LEVELS = 255  # L is one byte in the side info
MAX_RASTER_CELLS = 1 << 24  # decoder refuses larger rasters (memory bound for hostile input)
MAX_TRANSITION_CELLS = 1 << 20  # method 4 (pure-Python range coder) only up to this size
_FIX = 65535  # importance fixed-point scale used before pooling


class SideInfoError(InvalidInputError):
    """Malformed or inconsistent side information."""


# ---------------------------------------------------------------------------------------------- levels
def _check_hw(hw, what="latent_hw"):
    try:
        h, w = (int(v) for v in hw)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be (height, width), got {hw!r}") from None
    if h <= 0 or w <= 0 or h > 65535 or w > 65535:
        raise ValueError(f"{what} must be in 1..65535, got {hw!r}")
    return h, w


def _check_levels(levels):
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= MAX_LEVELS:
        raise ValueError(f"levels must be an integer in 2..{MAX_LEVELS}, got {levels!r}")
    return int(levels)


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Integer overlap lengths (n_out, n_in): input cell i spans [i·n_out, (i+1)·n_out), output cell
    r spans [r·n_in, (r+1)·n_in) on a common integer axis; each row sums to n_in."""
    edges_in = np.arange(n_in + 1, dtype=np.int64) * n_out
    edges_out = np.arange(n_out + 1, dtype=np.int64) * n_in
    lo = np.maximum(edges_out[:-1, None], edges_in[None, :-1])
    hi = np.minimum(edges_out[1:, None], edges_in[None, 1:])
    return np.maximum(hi - lo, 0)


def _pool_axis0(v: np.ndarray, n_out: int) -> np.ndarray:
    """Σ_i overlap(r, i)·v[i] along axis 0 (int64), overlaps as in :func:`area_weights`; n_out <= len(v).
    Each input row overlaps at most two output rows: the one it starts in and, when it straddles a
    boundary, the next one."""
    n_in = v.shape[0]
    i = np.arange(n_in, dtype=np.int64)
    r1 = (i * n_out) // n_in
    w1 = np.minimum((r1 + 1) * n_in, (i + 1) * n_out) - i * n_out
    w2 = n_out - w1
    starts = np.flatnonzero(np.r_[True, r1[1:] != r1[:-1]])
    out = np.zeros((n_out,) + v.shape[1:], np.int64)
    out[r1[starts]] = np.add.reduceat(w1.reshape((-1,) + (1,) * (v.ndim - 1)) * v, starts, axis=0)
    spill = np.flatnonzero(w2 > 0)
    out[r1[spill] + 1] += w2[spill].reshape((-1,) + (1,) * (v.ndim - 1)) * v[spill]
    return out


def levels_from_importance(m, latent_hw, levels: int = 16) -> np.ndarray:
    """Quantize an importance map (H, W) in [0, 1] to integer levels (h, w) uint8 in 0..levels-1.

    The map is first converted to 16-bit fixed point (round(m·65535), exact IEEE rounding), then
    area-pooled to ``latent_hw`` with integer overlap weights (:func:`area_weights`; exact for any
    size ratio) and rounded half-up: ℓ = floor((Σ w·v·(L−1)·2 + D) / (2D)), D = 65535·H·W. Every
    step after the fixed-point conversion is int64 arithmetic, so the result is the same on every
    machine. Values outside [0, 1] are clipped; NaN/inf raise ValueError."""
    L = _check_levels(levels)
    h, w = _check_hw(latent_hw)
    a = np.asarray(m)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"importance map must be (H, W), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.number) or np.issubdtype(a.dtype, np.complexfloating):
        raise ValueError(f"importance map must be real numbers, got {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError("importance map contains NaN or inf")
    H, W = a.shape
    if h > H or w > W:
        raise ValueError(f"latent size {h, w} larger than the map {H, W}")
    v = np.rint(np.clip(a, 0.0, 1.0) * _FIX)  # integers 0..65535 held exactly in float64
    if float(H) * W * _FIX * 2 * (L - 1) >= 2.0 ** 53:
        raise ValueError(f"map {H}x{W} too large for exact pooling")
    if H % h == 0 and W % w == 0:
        # whole blocks: every overlap is h (rows) by w (columns) -> the same integers as below
        s = v.astype(np.int64).reshape(h, H // h, w, W // w).sum(axis=(1, 3)) * (h * w)
    else:
        vi = v.astype(np.int64)
        s = _pool_axis0(_pool_axis0(vi, h).T, w).T  # Σ overlap·v, exact integers
    D = np.int64(_FIX) * H * W
    return ((s * (2 * (L - 1)) + D) // (2 * D)).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- side info
class SideInfo:
    """Common interface: ``to_bytes()``, ``levels(latent_hw) -> uint8 (h, w)``, ``n_levels``."""

    kind = 0
    n_levels = 16

    def to_bytes(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def levels(self, latent_hw) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __len__(self):
        return len(self.to_bytes())


def _zlib(data: bytes) -> bytes:
    return zlib.compress(data, 9)


def _unzlib(body: bytes, n: int) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(body, n + 1)
    except zlib.error as e:
        raise SideInfoError(f"raster: corrupt compressed data ({e})") from None
    if len(out) != n or not d.eof or d.unused_data or d.unconsumed_tail:
        raise SideInfoError(f"raster: compressed data does not decode to exactly {n} bytes")
    return out


def _rle_encode(a: np.ndarray) -> bytes:
    out = bytearray()
    for row in a:
        change = np.flatnonzero(np.diff(row.astype(np.int16))) + 1
        starts = np.concatenate(([0], change))
        ends = np.concatenate((change, [len(row)]))
        for s, e in zip(starts.tolist(), ends.tolist()):
            v = int(row[s])
            n = e - s
            while n > 0:
                k = min(n, 256)
                out += bytes((v, k - 1))
                n -= k
    return bytes(out)


def _rle_decode(data: bytes, h: int, w: int) -> np.ndarray:
    if len(data) % 2:
        raise SideInfoError("raster: run-length data of odd length")
    pairs = np.frombuffer(data, np.uint8).reshape(-1, 2)
    runs = pairs[:, 1].astype(np.int64) + 1
    if int(runs.sum()) != h * w:
        raise SideInfoError("raster: run lengths do not cover the raster")
    flat = np.repeat(pairs[:, 0], runs)
    # runs never cross a row boundary in valid data
    ends = np.cumsum(runs)
    row_ends = np.arange(1, h + 1, dtype=np.int64) * w
    if not np.isin(row_ends, ends).all():
        raise SideInfoError("raster: a run crosses a row boundary")
    return flat.reshape(h, w)


class RasterLevels(SideInfo):
    """A level raster (h, w) uint8 in 0..n_levels-1, coded losslessly (smallest of the methods)."""

    kind = KIND_RASTER

    def __init__(self, levels_u8, n_levels: int = 16):
        self.n_levels = _check_levels(n_levels)
        a = np.asarray(levels_u8)
        if a.ndim == 4 and a.shape[:2] == (1, 1):
            a = a[0, 0]
        if a.ndim != 2 or a.size == 0:
            raise ValueError(f"levels must be (h, w), got shape {a.shape}")
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"levels must be integers, got {a.dtype}")
        _check_hw(a.shape, "levels shape")
        if a.min() < 0 or a.max() >= self.n_levels:
            raise ValueError(f"levels must be in 0..{self.n_levels - 1}, got {a.min()}..{a.max()}")
        self._a = np.ascontiguousarray(a, dtype=np.uint8)
        self._a.setflags(write=False)

    @property
    def shape(self):
        return self._a.shape

    def levels(self, latent_hw=None) -> np.ndarray:
        """The raster (a copy); ``latent_hw`` must match its shape when given."""
        if latent_hw is not None and tuple(int(v) for v in latent_hw) != self._a.shape:
            raise SideInfoError(f"raster side info is {self._a.shape}, asked for {tuple(latent_hw)}")
        return self._a.copy()

    def to_bytes(self) -> bytes:
        h, w = self._a.shape
        head = struct.pack("<BBBHH", VERSION, KIND_RASTER, self.n_levels, h, w)
        a = self._a
        if (a == a.flat[0]).all():
            return head + bytes((0, int(a.flat[0])))
        raw = a.tobytes()
        diff = np.diff(a.astype(np.int16), axis=1, prepend=0).astype(np.uint8).tobytes()
        cands = [(1, _zlib(raw)), (2, _zlib(diff)), (3, _zlib(_rle_encode(a)))]
        if h * w <= MAX_TRANSITION_CELLS:
            cands.append((4, _levelcode.encode(a, self.n_levels)))
        method, body = min(cands, key=lambda c: (len(c[1]), c[0]))
        return head + bytes((method,)) + body

    @classmethod
    def _parse(cls, b: bytes) -> "RasterLevels":
        if len(b) < 9:
            raise SideInfoError("raster side info truncated")
        _, _, L, h, w, method = struct.unpack_from("<BBBHHB", b)
        if L < 2:
            raise SideInfoError(f"raster: level count {L} < 2")
        if h == 0 or w == 0:
            raise SideInfoError("raster: empty raster")
        if h * w > MAX_RASTER_CELLS:
            raise SideInfoError(f"raster: {h}x{w} exceeds {MAX_RASTER_CELLS} cells")
        body = b[8:]
        if method == 0:
            if len(body) != 1:
                raise SideInfoError("raster: constant body must be one byte")
            a = np.full((h, w), body[0], np.uint8)
        elif method == 1:
            a = np.frombuffer(_unzlib(body, h * w), np.uint8).reshape(h, w)
        elif method == 2:
            d = np.frombuffer(_unzlib(body, h * w), np.uint8).reshape(h, w)
            a = np.cumsum(d, axis=1, dtype=np.uint64).astype(np.uint8)  # mod 256
        elif method == 3:
            a = _rle_decode(_unzlib_any(body, 2 * h * w), h, w)
        elif method == 4:
            if h * w > MAX_TRANSITION_CELLS:
                raise SideInfoError(f"raster: method 4 is limited to {MAX_TRANSITION_CELLS} cells")
            try:
                a = _levelcode.decode(body, h, w, L)
            except ValueError as e:
                raise SideInfoError(f"raster: {e}") from None
        else:
            raise SideInfoError(f"raster: unknown method {method}")
        if int(a.max()) >= L:
            raise SideInfoError(f"raster: level {int(a.max())} out of range for L={L}")
        return cls(a, L)

    def __eq__(self, other):
        return isinstance(other, RasterLevels) and self.n_levels == other.n_levels and \
            np.array_equal(self._a, other._a)

    def __repr__(self):
        return f"RasterLevels(shape={self._a.shape}, n_levels={self.n_levels})"


def _unzlib_any(body: bytes, limit: int) -> bytes:
    """Decompress with an output cap (at most ``limit`` bytes) and strict end checks."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(body, limit + 1)
    except zlib.error as e:
        raise SideInfoError(f"raster: corrupt compressed data ({e})") from None
    if len(out) > limit or not d.eof or d.unused_data or d.unconsumed_tail:
        raise SideInfoError("raster: compressed data malformed or too long")
    return out


# ---------------------------------------------------------------------------------------------- gaze
_Q = 4  # points and radii in quarter frame pixels


class FoveatedGaze(SideInfo):
    """Parametric side info: gaze points (frame pixels) + foveation profile as integer radii.

    ``params``: a :class:`~rac_video.importance.foveation.FoveationParams` (or dict of its fields),
    used with ``display`` (a :class:`~rac_video.importance.foveation.Display`; default the GazeCom
    setup) to build the radius table on the encoder side — ``radius[ℓ]`` is the distance (quarter
    frame pixels) out to which a point gives level ≥ ℓ, i.e. importance ≥ (ℓ − ½)/(L − 1), the same
    rounding as :func:`levels_from_importance`. Alternatively pass ``radii_q`` (the integer table)
    and ``floor_level`` directly (that is what :func:`from_bytes` does).

    ``levels(latent_hw)`` evaluates each latent cell centre, in 1/16 frame pixels computed by integer
    division, against the radius table: ℓ = max(floor, max over points of #{ℓ' : d² ≤ r_ℓ'²}).
    Distances use the flat eccentricity of ``foveation`` (pixel distance / ppd at screen centre).
    No valid point: every cell gets L − 1 (same convention as ``importance_map(empty="uniform")``)."""

    kind = KIND_GAZE

    def __init__(self, points_px, frame_hw, params=None, *, display: fov.Display | None = None,
                 n_levels: int = 16, radii_q=None, floor_level: int | None = None):
        self.n_levels = L = _check_levels(n_levels)
        H, W = _check_hw(frame_hw, "frame_hw")
        self.frame_hw = (H, W)
        p = np.asarray(points_px, dtype=np.float64)
        if p.size == 0:
            p = np.zeros((0, 2))
        if p.ndim == 1 and p.shape[0] == 2:
            p = p[None]
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"points must be (K, 2), got shape {p.shape}")
        p = p[np.isfinite(p).all(axis=1)]
        if len(p) > 255:
            raise ValueError("at most 255 gaze points")
        # quantize to quarter pixels, clipped into the frame
        qx = np.clip(np.rint(p[:, 0] * _Q), 0, W * _Q - 1).astype(np.int64)
        qy = np.clip(np.rint(p[:, 1] * _Q), 0, H * _Q - 1).astype(np.int64)
        if (W * _Q - 1) > 65535 or (H * _Q - 1) > 65535:
            raise ValueError("frame too large for quarter-pixel gaze coordinates (max 16384 px)")
        self.points_q = np.stack([qx, qy], axis=1) if len(p) else np.zeros((0, 2), np.int64)
        if radii_q is not None:
            if floor_level is None:
                raise ValueError("radii_q needs floor_level")
            self.floor_level = int(floor_level)
            self.radii_q = np.asarray(radii_q, dtype=np.int64).reshape(-1)
        else:
            if params is None:
                params = fov.FoveationParams()
            elif isinstance(params, dict):
                params = fov.FoveationParams(**params)
            display = display or fov.GAZECOM_DISPLAY
            self.params, self.display = params, display
            self.floor_level, self.radii_q = _radius_table(params, display, (H, W), L)
        if not 0 <= self.floor_level <= L - 1:
            raise ValueError(f"floor level {self.floor_level} outside 0..{L - 1}")
        if len(self.radii_q) != L - 1 - self.floor_level:
            raise ValueError("radius table length must be L-1-floor_level")
        if len(self.radii_q) and (self.radii_q.min() < 0 or self.radii_q.max() > 65535
                                  or np.any(np.diff(self.radii_q) > 0)):
            raise ValueError("radii must be non-increasing integers in 0..65535")

    @property
    def points_px(self) -> np.ndarray:
        """Quantized gaze points in frame pixels (K, 2) float64."""
        return self.points_q.astype(np.float64) / _Q

    def to_bytes(self) -> bytes:
        H, W = self.frame_hw
        out = bytearray(struct.pack("<BBBBHHB", VERSION, KIND_GAZE, self.n_levels, self.floor_level, H, W,
                                    len(self.points_q)))
        for x, y in self.points_q.tolist():
            out += struct.pack("<HH", x, y)
        for r in self.radii_q.tolist():
            out += struct.pack("<H", r)
        return bytes(out)

    @classmethod
    def _parse(cls, b: bytes) -> "FoveatedGaze":
        if len(b) < 9:
            raise SideInfoError("gaze side info truncated")
        _, _, L, floor, H, W, K = struct.unpack_from("<BBBBHHB", b)
        if L < 2 or floor > L - 1 or H == 0 or W == 0 or W * _Q > 65536 or H * _Q > 65536:
            raise SideInfoError("gaze side info: bad header")
        n = L - 1 - floor
        need = 9 + 4 * K + 2 * n
        if len(b) != need:
            raise SideInfoError(f"gaze side info: {len(b)} bytes, expected {need}")
        pts = np.frombuffer(b, "<u2", count=2 * K, offset=9).astype(np.int64).reshape(K, 2)
        radii = np.frombuffer(b, "<u2", count=n, offset=9 + 4 * K).astype(np.int64)
        if np.any(pts[:, 0] >= W * _Q) or np.any(pts[:, 1] >= H * _Q):
            raise SideInfoError("gaze side info: point outside the frame")
        if np.any(np.diff(radii) > 0):
            raise SideInfoError("gaze side info: radii must be non-increasing")
        return cls(pts.astype(np.float64) / _Q, (H, W), n_levels=L, radii_q=radii, floor_level=floor)

    def levels(self, latent_hw) -> np.ndarray:
        """Integer-only regeneration of the level raster at ``latent_hw`` (uint8 (h, w))."""
        h, w = _check_hw(latent_hw)
        H, W = self.frame_hw
        L = self.n_levels
        if len(self.points_q) == 0:
            return np.full((h, w), L - 1, np.uint8)
        # cell centres in 1/16 frame pixels: ((2c+1)·W·8) // w
        cx = ((2 * np.arange(w, dtype=np.int64) + 1) * W * 8) // w
        cy = ((2 * np.arange(h, dtype=np.int64) + 1) * H * 8) // h
        r16sq = (self.radii_q * (16 // _Q)) ** 2  # radii in 1/16 px, squared
        best = np.full((h, w), self.floor_level, np.int64)
        for qx, qy in self.points_q.tolist():
            dx2 = (cx - qx * (16 // _Q)) ** 2
            dy2 = (cy - qy * (16 // _Q)) ** 2
            d2 = dy2[:, None] + dx2[None, :]
            # radii are non-increasing, so the count of satisfied thresholds is a searchsorted
            cnt = np.searchsorted(-r16sq, -d2, side="right") if len(r16sq) else np.zeros_like(d2)
            # searchsorted on -r (non-decreasing): number of radii with -r <= -d2, i.e. r >= d
            np.maximum(best, self.floor_level + cnt, out=best)
        return best.astype(np.uint8)

    def __eq__(self, other):
        return isinstance(other, FoveatedGaze) and self.to_bytes() == other.to_bytes()

    def __repr__(self):
        return (f"FoveatedGaze(points={len(self.points_q)}, frame_hw={self.frame_hw}, n_levels={self.n_levels}, "
                f"floor_level={self.floor_level})")


def _radius_table(params: fov.FoveationParams, display: fov.Display, frame_hw, L: int):
    """Encoder side (floats allowed): floor level and radii (quarter frame px) for levels floor+1..L-1."""
    ppd_limit = fov.effective_ppd(display, frame_hw)
    frame_ppd = display.frame_ppd(frame_hw)
    # floor level: the level that a value of `floor` quantizes to (same rounding as levels_from_importance)
    floor_level = int(math.floor(params.floor * (L - 1) + 0.5))
    floor_level = min(max(floor_level, 0), L - 1)
    radii = []
    for lv in range(floor_level + 1, L):
        v = (lv - 0.5) / (L - 1)
        e = fov.radius_for_importance(v, ppd_limit, params)
        r = e * frame_ppd * _Q
        radii.append(int(min(max(math.floor(r), 0), 65535)) if math.isfinite(r) else (65535 if r > 0 else 0))
    return floor_level, np.asarray(radii, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- parse
def from_bytes(b) -> SideInfo:
    """Parse side information bytes (either kind); SideInfoError on anything malformed."""
    if not isinstance(b, (bytes, bytearray, memoryview)):
        raise SideInfoError(f"side info must be bytes, got {type(b).__name__}")
    b = bytes(b)
    if len(b) < 2:
        raise SideInfoError("side info truncated")
    if b[0] != VERSION:
        raise SideInfoError(f"unsupported side info version {b[0]} (this build reads {VERSION})")
    try:
        if b[1] == KIND_RASTER:
            return RasterLevels._parse(b)
        if b[1] == KIND_GAZE:
            return FoveatedGaze._parse(b)
    except SideInfoError:
        raise
    except (ValueError, struct.error) as e:
        raise SideInfoError(f"malformed side info: {e}") from None
    raise SideInfoError(f"unknown side info kind {b[1]}")
