"""Lossless coding of level rasters by row transitions and adaptive range coding (raster method 4).

A level raster of a smooth importance map is a few nested regions whose boundaries move little from
one row to the next. Each row is coded as its *transitions* (column where the level changes, new
level) relative to the transitions of the row above, in the spirit of two-dimensional fax coding
(READ), generalised to many levels:

* ``V(d)``, d ∈ {−2 … 2}: the next transition sits d columns from the next reference transition and
  switches to the same level as it;
* ``XV(d)``, 2 < |d| ≤ 24: the same, for a boundary that moved further (d coded separately);
* ``PASS``: the next reference transition has no counterpart in this row (skip it);
* ``H``: a transition coded explicitly: run length since the current column, then the level change;
* ``EOL``: no more transitions in this row.

The first level of each row is coded as a difference to the first level of the row above. Symbols
go through adaptive frequency models (mode model conditioned on the previous mode) into a 32-bit
carry-less range coder. Everything is integer arithmetic; the decoder checks every step and raises
``ValueError`` on inconsistent data (positions not increasing or outside the row, levels outside
0..L−1, models out of range), so hostile input cannot hang it: each symbol either ends the row,
advances the column or consumes a reference transition.
"""
from __future__ import annotations

import numpy as np

_MASK = 0xFFFFFFFF
_TOP = 1 << 24
_BOT = 1 << 16
_INC = 24
_LIMIT = 1 << 13  # model totals stay far below _BOT

V_MIN, V_MAX = -2, 2
_N_V = V_MAX - V_MIN + 1
PASS, H, EOL, XV = _N_V, _N_V + 1, _N_V + 2, _N_V + 3
N_MODES = _N_V + 4
XV_MAX = 24  # largest displacement of an extended vertical transition
_START = N_MODES  # context for the first mode of a row


class _Model:
    """Adaptive frequency table over ``n`` symbols."""

    __slots__ = ("f", "tot")

    def __init__(self, n):
        self.f = [1] * n
        self.tot = n

    def cum(self, s):
        return sum(self.f[:s])

    def update(self, s):
        self.f[s] += _INC
        self.tot += _INC
        if self.tot > _LIMIT:
            self.f = [(v + 1) >> 1 for v in self.f]
            self.tot = sum(self.f)


class _Encoder:
    def __init__(self):
        self.low, self.range, self.out = 0, _MASK, bytearray()

    def _encode(self, cum, freq, tot):
        r = self.range // tot
        self.low += cum * r
        self.range = r * freq
        while True:
            if (self.low ^ (self.low + self.range)) < _TOP:
                pass
            elif self.range < _BOT:
                self.range = (-self.low) & (_BOT - 1)
            else:
                break
            self.out.append((self.low >> 24) & 0xFF)
            self.low = (self.low << 8) & _MASK
            self.range = (self.range << 8) & _MASK

    def symbol(self, m: _Model, s):
        self._encode(m.cum(s), m.f[s], m.tot)
        m.update(s)

    def bits(self, value, nbits):
        while nbits > 0:  # chunks of <= 15 bits keep tot below _BOT
            k = min(nbits, 15)
            nbits -= k
            self._encode((value >> nbits) & ((1 << k) - 1), 1, 1 << k)

    def finish(self) -> bytes:
        for _ in range(4):
            self.out.append((self.low >> 24) & 0xFF)
            self.low = (self.low << 8) & _MASK
        return bytes(self.out)


class _Decoder:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0
        self.low, self.range, self.code = 0, _MASK, 0
        for _ in range(4):
            self.code = ((self.code << 8) | self._byte()) & _MASK

    def _byte(self):
        if self.pos < len(self.data):
            b = self.data[self.pos]
        else:
            b = 0
        self.pos += 1
        return b

    def _target(self, tot):
        self.range //= tot
        v = (self.code - self.low) // self.range
        if v < 0 or v >= tot:
            raise ValueError("corrupt range-coded data")
        return v

    def _consume(self, cum, freq):
        self.low += cum * self.range
        self.range *= freq
        while True:
            if (self.low ^ (self.low + self.range)) < _TOP:
                pass
            elif self.range < _BOT:
                self.range = (-self.low) & (_BOT - 1)
            else:
                break
            self.code = ((self.code << 8) | self._byte()) & _MASK
            self.low = (self.low << 8) & _MASK
            self.range = (self.range << 8) & _MASK

    def symbol(self, m: _Model):
        v = self._target(m.tot)
        c = 0
        for s, f in enumerate(m.f):
            if v < c + f:
                self._consume(c, f)
                m.update(s)
                return s
            c += f
        raise ValueError("corrupt range-coded data")  # pragma: no cover - v < tot always finds one

    def bits(self, nbits):
        value = 0
        while nbits > 0:
            k = min(nbits, 15)
            nbits -= k
            v = self._target(1 << k)
            self._consume(v, 1)
            value = (value << k) | v
        return value

    @property
    def overrun(self) -> int:
        """Bytes read past the end of the data."""
        return max(0, self.pos - len(self.data))


class _Models:
    def __init__(self, L, w):
        self.mode = [_Model(N_MODES) for _ in range(N_MODES + 1)]
        self.first = _Model(2 * L - 1)          # first level of a row minus the one above, + (L-1)
        self.delta = _Model(2 * L - 2)          # level change at an H transition (never 0)
        self.nbits = _Model(max(2, w.bit_length() + 1))  # bit length of an H run (>= 1)
        self.xv = _Model(2 * (XV_MAX - V_MAX))  # XV displacement: sign and magnitude V_MAX+1..XV_MAX


def _transitions(row):
    idx = np.flatnonzero(row[1:] != row[:-1]) + 1
    return list(zip(idx.tolist(), row[idx].tolist()))


def encode(a: np.ndarray, L: int) -> bytes:
    """Code an (h, w) uint8 raster with values < L."""
    h, w = a.shape
    enc = _Encoder()
    m = _Models(L, w)
    ref_first, ref = 0, []
    for r in range(h):
        row = a[r]
        cur = int(row[0])
        enc.symbol(m.first, cur - ref_first + L - 1)
        trans = _transitions(row)
        pos, j, ctx = 0, 0, _START
        for t, v in trans:
            while True:
                if j < len(ref):
                    q, u = ref[j]
                    if V_MIN <= t - q <= V_MAX and v == u:
                        mode = t - q - V_MIN
                        enc.symbol(m.mode[ctx], mode)
                        break
                    if v == u and abs(t - q) <= XV_MAX:  # the same boundary, moved further
                        mode = XV
                        enc.symbol(m.mode[ctx], XV)
                        d = t - q
                        enc.symbol(m.xv, (abs(d) - V_MAX - 1) * 2 + (d < 0))
                        break
                    if q < t + V_MIN:  # this reference transition has no counterpart here
                        enc.symbol(m.mode[ctx], PASS)
                        ctx = PASS
                        j += 1
                        continue
                mode = H
                enc.symbol(m.mode[ctx], H)
                n = t - pos
                nb = n.bit_length()
                enc.symbol(m.nbits, nb)
                enc.bits(n - (1 << (nb - 1)), nb - 1)
                d = v - cur
                enc.symbol(m.delta, d + L - 1 if d < 0 else d + L - 2)
                break
            ctx = mode
            pos, cur = t, v
            while j < len(ref) and ref[j][0] <= t:
                j += 1
        enc.symbol(m.mode[ctx], EOL)
        ref_first, ref = int(row[0]), trans
    return enc.finish()


def decode(data: bytes, h: int, w: int, L: int) -> np.ndarray:
    """Inverse of :func:`encode`; ValueError on inconsistent data."""
    dec = _Decoder(data)
    m = _Models(L, w)
    out = np.empty((h, w), np.uint8)
    ref_first, ref = 0, []
    for r in range(h):
        first = ref_first + dec.symbol(m.first) - (L - 1)
        if not 0 <= first < L:
            raise ValueError("level out of range")
        trans = []
        pos, cur, j, ctx = 0, first, 0, _START
        while True:
            mode = dec.symbol(m.mode[ctx])
            if mode == EOL:
                break
            if mode == PASS:
                if j >= len(ref):
                    raise ValueError("PASS without a reference transition")
                j += 1
                ctx = PASS
                continue
            if mode == XV:
                if j >= len(ref):
                    raise ValueError("vertical mode without a reference transition")
                x = dec.symbol(m.xv)
                mag = x // 2 + V_MAX + 1
                q, v = ref[j]
                t = q - mag if x % 2 else q + mag
            elif mode == H:
                nb = dec.symbol(m.nbits)
                if nb == 0:
                    raise ValueError("zero run length")
                t = pos + (1 << (nb - 1)) + dec.bits(nb - 1)
                s = dec.symbol(m.delta)
                v = cur + (s - (L - 1) if s < L - 1 else s - (L - 2))
            else:
                if j >= len(ref):
                    raise ValueError("vertical mode without a reference transition")
                q, v = ref[j]
                t = q + mode + V_MIN
            if not pos < t < w:
                raise ValueError("transition position out of order or outside the row")
            if not 0 <= v < L or v == cur:
                raise ValueError("level out of range or unchanged at a transition")
            out[r, pos:t] = cur
            trans.append((t, v))
            pos, cur, ctx = t, v, mode
            while j < len(ref) and ref[j][0] <= t:
                j += 1
        out[r, pos:] = cur
        ref_first, ref = first, trans
        if dec.overrun:
            raise ValueError("data ends early")
    if dec.pos != len(data):
        raise ValueError("trailing bytes after the coded raster")
    return out
