"""rANS encode/decode of int32 symbol tensors with per-symbol table indexes (csrc/rans.cpp).

``encode(symbols, indexes, tables) -> bytes`` writes a self-describing stream (magic, version,
lanes, chunk size, the tables' fingerprint, the shape, every chunk's length); ``decode(data,
indexes, tables)`` returns the int32 array with the recorded shape. Anything malformed —
random bytes, truncation, flipped bits, other tables, a shape that does not match the indexes —
raises ``BitstreamError`` (a ``ValueError``): every read is bounds-checked, every lane must end
in the encoder's initial state and consume exactly its words, and allocations are bounded by the
caller's ``indexes`` (tests/test_rans_fuzz.py, also under ASan/UBSan via tools/fuzz_rans.py).
There is no checksum: about 0.5 % of single-bit flips in Gaussian streams (a slot moved by a
multiple of a frequency in a flat stretch of a wide pmf, or raw escape bits) decode to other
values without an error — integrity belongs to the container. Chunks are independent and coded in parallel
(OpenMP, ``threads=0``: all available).
"""
from __future__ import annotations

import numpy as np

from ..errors import CorruptStreamError
from .tables import CdfTables

__all__ = ["BitstreamError", "encode", "decode", "stream_bits", "DEFAULT_CHUNK", "MAX_LANES"]

DEFAULT_CHUNK = 1 << 16
MAX_LANES = 64


class BitstreamError(CorruptStreamError):
    """A coded tensor is malformed, truncated, or was coded with other tables."""


def _int32(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {a.dtype}")
    if a.dtype != np.int32:
        if a.size and (a.min() < -(2**31) or a.max() >= 2**31):
            raise ValueError(f"{name} has values outside int32")
        a = a.astype(np.int32)
    return np.require(a, requirements="C")  # (keeps 0-d arrays 0-d, unlike ascontiguousarray)


def _check_indexes(ix: np.ndarray, tables: CdfTables, err=ValueError) -> None:
    if ix.size and (int(ix.min()) < 0 or int(ix.max()) >= tables.num_tables):
        raise err(f"indexes must be in [0, {tables.num_tables}), got [{int(ix.min())}, {int(ix.max())}]")


def _log2_pow2(v: int, name: str, hi: int) -> int:
    v = int(v)
    if v < 1 or v > hi or v & (v - 1):
        raise ValueError(f"{name} must be a power of two in [1, {hi}], got {v}")
    return v.bit_length() - 1


def encode(symbols, indexes, tables: CdfTables, *, lanes: int | None = None, chunk_size: int = DEFAULT_CHUNK,
           threads: int = 0) -> bytes:
    """Code ``symbols`` (any shape, ≤ 8 dims) with table ``indexes[i]`` for symbol i (same size).

    ``lanes`` interleaved rANS states per chunk (power of two ≤ 64; default 8, fewer for small tensors
    and low-rate streams so the flushed states stay a small part of the stream, ``_default_lanes``);
    ``chunk_size`` symbols per independent chunk (power of two ≥ lanes).
    """
    sym = _int32(symbols, "symbols")
    ix = _int32(indexes, "indexes")
    if ix.size != sym.size:
        raise ValueError(f"indexes has {ix.size} elements but symbols has {sym.size}")
    if sym.ndim > 8:
        raise ValueError("at most 8 dimensions")
    _check_indexes(ix, tables)
    if lanes is None:
        lanes = _default_lanes(sym.size, tables.ideal_bits(sym, ix))
    ll = _log2_pow2(lanes, "lanes", MAX_LANES)
    cl = _log2_pow2(chunk_size, "chunk_size", 1 << 30)
    if cl < ll:
        raise ValueError("chunk_size must be >= lanes")
    return _native_mod().rans_encode(
        tables.native(), sym.reshape(-1), ix.reshape(-1), list(sym.shape), ll, cl, int(threads))


BITS_PER_LANE = 4800   # a lane's flushed state (≈ 24 bits) stays ≤ 0.5 % of the bits it carries


def _default_lanes(n: int, ideal_bits: float | None = None) -> int:
    """Lanes per chunk: 8, fewer for small tensors (≥ 512 symbols per lane) and, when the information
    content is known, for low-rate streams (≥ BITS_PER_LANE bits per lane), so that the states the
    lanes flush stay a small part of the stream. Any choice decodes (the stream header names it)."""
    by_count = max(0, min(3, (max(n, 1) // 512).bit_length() - 1))
    if ideal_bits is None:
        return 1 << by_count
    by_bits = max(0, (int(ideal_bits) // BITS_PER_LANE).bit_length() - 1)
    return 1 << min(by_count, by_bits)


def _varint_len(v: int) -> int:
    return max(1, (int(v).bit_length() + 6) // 7)


def stream_bits(symbols, indexes, tables: CdfTables, *, lanes: int | None = None,
                chunk_size: int = DEFAULT_CHUNK) -> float:
    """Expected size in bits of ``encode(symbols, indexes, tables)`` without running the coder: the
    information content under the integer tables (:meth:`CdfTables.ideal_bits`) plus the stream's
    fixed costs — its header (magic, version, lanes, chunk size, fingerprint, shape, one length per
    chunk) and the final state each lane of each chunk flushes: 32 bits, of which the last
    log2(state) − 16 carry coded information, ≈ 24 bits net on average (rANS states are roughly
    log-uniform over [2^16, 2^32)). Within ~0.3 % of the real size for streams of a few thousand
    symbols or more."""
    sym = np.asarray(symbols)
    ideal = tables.ideal_bits(sym, indexes)
    n = sym.size
    lanes = _default_lanes(n, ideal) if lanes is None else int(lanes)
    chunks = -(-n // chunk_size)
    flush = 24 * lanes * chunks
    per_chunk_bytes = (ideal + flush) / 8 / max(chunks, 1)
    head = 2 + 1 + 1 + 1 + 4 + 1 + sum(_varint_len(d) for d in sym.shape) + chunks * _varint_len(per_chunk_bytes)
    return ideal + 8 * head + flush


def decode(data, indexes, tables: CdfTables, *, threads: int = 0) -> np.ndarray:
    """Decode a stream from :func:`encode`; ``indexes`` must hold as many elements as it codes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes-like, got {type(data).__name__}")
    ix = _int32(indexes, "indexes")
    _check_indexes(ix, tables, BitstreamError)
    buf = np.frombuffer(data, dtype=np.uint8) if len(data) else np.zeros(0, np.uint8)
    try:
        flat, shape = _native_mod().rans_decode(tables.native(), buf, ix.reshape(-1), int(threads))
    except ValueError as exc:
        raise BitstreamError(str(exc)) from None
    return flat.reshape(shape)


def _native_mod():
    from .. import _native

    mod, why = _native.cpu_module()
    if mod is None:
        raise RuntimeError(f"the rANS coder needs the C++ module: {why}")
    return mod
