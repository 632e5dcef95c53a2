"""Fuzz the rANS decoder: malformed input raises BitstreamError — no crash, hang or huge allocation.

Every case decodes mutated or made-up bytes and accepts exactly two outcomes: BitstreamError,
or (for mutations that happen to form another well-formed stream) an int32 array of the
expected size. Any other exception fails. ``RAC_VIDEO_FUZZ_EXAMPLES`` sets the hypothesis
examples per test (default 150); ``RAC_VIDEO_FUZZ_REPORT=path`` writes the case counts as
JSON at exit. ``tools/fuzz_rans.py --sanitize`` runs this file against an ASan/UBSan build.
"""
import atexit
import collections
import json
import os
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rac_video import entropy as E

pytestmark = pytest.mark.skipif(__import__("rac_video._native", fromlist=["x"]).cpu_module()[0] is None,
                                reason="C++ module not built")

EXAMPLES = int(os.environ.get("RAC_VIDEO_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
COUNTS: collections.Counter = collections.Counter()


@atexit.register
def _report():
    path = os.environ.get("RAC_VIDEO_FUZZ_REPORT")
    if path and COUNTS:
        with open(path, "w") as f:
            json.dump({"cases": sum(v for k, v in COUNTS.items() if k.endswith(":cases")), "counts": dict(COUNTS)},
                      f, indent=1, sort_keys=True)


def _check(kind, data, indexes, tables, n_expected=None):
    """Decode; BitstreamError or a plausible array are the only allowed outcomes."""
    COUNTS[f"{kind}:cases"] += 1
    try:
        out = E.decode(bytes(data), indexes, tables)
    except E.BitstreamError as exc:
        assert str(exc)  # a message for the user
        COUNTS[f"{kind}:error"] += 1
        return None
    COUNTS[f"{kind}:decoded"] += 1
    assert out.dtype == np.int32
    assert out.size == (np.asarray(indexes).size if n_expected is None else n_expected)
    return out


def _stream(n, seed, lanes, chunk_log2, tables=None):
    rng = np.random.default_rng(seed)
    tb = tables or E.gaussian_tables()
    ix = rng.integers(0, tb.num_tables, n).astype(np.int32)
    if tables is None:
        s = E.SCALE_TABLE[ix].astype(np.float64)
        y = np.floor(rng.normal(0, s) + 0.5).astype(np.int32)
    else:
        y = rng.integers(-40, 40, n).astype(np.int32)
    tail = rng.random(n) < 0.02  # some escapes
    y[tail] = rng.integers(-(2**31), 2**31 - 1, int(tail.sum()), dtype=np.int64).astype(np.int32)
    chunk = 1 << max(chunk_log2, lanes.bit_length() - 1)
    return y, ix, E.encode(y, ix, tb, lanes=lanes, chunk_size=chunk), tb


streams = st.builds(_stream, n=st.integers(0, 2500), seed=st.integers(0, 2**32 - 1),
                    lanes=st.sampled_from([1, 2, 4, 8, 16, 64]), chunk_log2=st.integers(0, 12))


@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes(data):
    n = 0 if len(data) < 1 else data[0] % 50
    _check("random", data, np.zeros(n, np.int32), E.gaussian_tables())


@FUZZ
@given(s=streams, body=st.randoms(use_true_random=False))
def test_valid_header_random_body(s, body):
    y, ix, data, tb = s
    head = _header_length(data, y.size)
    rnd = body.getrandbits(8 * (len(data) - head)).to_bytes(len(data) - head, "little") if len(data) > head else b""
    _check("random_body", data[:head] + rnd, ix, tb)


def _header_length(data, n):
    """Bytes before the first chunk (parses the documented header)."""
    p = 10
    ndim = data[9]
    for _ in range(ndim + -(-n // (1 << data[4]))):
        while data[p] & 0x80:
            p += 1
        p += 1
    return p


@FUZZ
@given(s=streams, cut=st.integers(0, 10**6))
def test_truncated(s, cut):
    y, ix, data, tb = s
    cut = cut % max(len(data), 1)
    _check("truncated", data[:cut], ix, tb)


@FUZZ
@given(s=streams, extra=st.binary(min_size=1, max_size=20))
def test_extended(s, extra):
    y, ix, data, tb = s
    _check("extended", data + extra, ix, tb)


@FUZZ
@given(s=streams, flips=st.lists(st.integers(0, 10**7), min_size=1, max_size=4))
def test_bit_flips(s, flips):
    y, ix, data, tb = s
    b = bytearray(data)
    for f in flips:
        f %= 8 * len(b)
        b[f // 8] ^= 1 << (f % 8)
    out = _check("bitflip", b, ix, tb)
    if out is not None and np.array_equal(out.reshape(-1), y.reshape(-1)):
        # a flip in a field the data does not use (e.g. lane count / chunk size of an empty tensor)
        COUNTS["bitflip:same"] += 1


@FUZZ
@given(s=streams, pos=st.integers(0, 10**6), span=st.integers(1, 40), dup=st.booleans())
def test_splice(s, pos, span, dup):
    y, ix, data, tb = s
    pos %= max(len(data), 1)
    mutated = data[:pos] + data[pos:pos + span] + data[pos:] if dup else data[:pos] + data[pos + span:]
    _check("splice", mutated, ix, tb)


@FUZZ
@given(s=streams, seed=st.integers(0, 2**32 - 1))
def test_wrong_tables_and_indexes(s, seed):
    y, ix, data, tb = s
    rng = np.random.default_rng(seed)
    T = tb.num_tables
    other = E.CdfTables.from_pmfs(rng.dirichlet(np.ones(9), size=T) * 0.99, rng.integers(-5, 0, T))
    assert _check("wrong_tables", data, ix, other) is None  # the fingerprint differs: always refused
    wrong = ix.copy()
    if wrong.size:
        wrong[rng.integers(0, wrong.size)] = rng.integers(0, T)
        wrong = (wrong + rng.integers(0, 2, wrong.size)) % T
    _check("wrong_indexes", data, wrong, tb)
    _check("wrong_count", data, np.zeros(ix.size + 1 + rng.integers(0, 3), np.int32), tb)


def _varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


@FUZZ
@given(version=st.sampled_from([1, 1, 1, 0, 2, 255]), lanes=st.integers(0, 255), chunk=st.integers(0, 255),
       dims=st.lists(st.sampled_from([0, 1, 3, 1000, 2**31 - 1, 2**31, 2**40, 2**63]), max_size=12),
       ndim_lie=st.integers(-2, 2), lens=st.lists(st.integers(0, 2**64 - 1), max_size=6),
       overlong=st.booleans(), tail=st.binary(max_size=64), n_ix=st.sampled_from([0, 1, 3, 1000]))
def test_absurd_headers(version, lanes, chunk, dims, ndim_lie, lens, overlong, tail, n_ix):
    tb = E.gaussian_tables()
    head = b"RA" + bytes([version, lanes, chunk]) + struct.pack("<I", tb.fingerprint)
    head += bytes([max(0, min(255, len(dims) + ndim_lie))])
    head += b"".join(_varint(d) for d in dims)
    head += b"".join(_varint(v) for v in lens)
    if overlong:
        head += b"\xff" * 11
    _check("absurd_header", head + tail, np.zeros(n_ix, np.int32), tb)


@FUZZ
@given(s=streams)
def test_valid_streams_round_trip(s):
    y, ix, data, tb = s
    out = _check("valid", data, ix, tb)
    assert out is not None and np.array_equal(out.reshape(-1), y.reshape(-1))


def test_big_claims_allocate_nothing():
    # a header claiming 2^62 symbols, or 2^31-1 chunks, is refused before any allocation
    tb = E.gaussian_tables()
    head = b"RA\x01\x00\x00" + struct.pack("<I", tb.fingerprint) + b"\x08" + _varint(2**31 - 1) * 8
    with pytest.raises(E.BitstreamError, match="more"):
        E.decode(head, np.zeros(5, np.int32), tb)
    ix = np.zeros(1 << 20, np.int32)  # 2^20 one-symbol chunks but no chunk lengths
    head = b"RA\x01\x00\x00" + struct.pack("<I", tb.fingerprint) + b"\x01" + _varint(ix.size)
    with pytest.raises(E.BitstreamError, match="truncated"):
        E.decode(head, ix, tb)


def test_single_bit_flips_of_gaussian_streams_are_mostly_detected():
    # The format has no checksum: ANS words carry no redundancy, so a flip that moves a slot by a
    # multiple of a frequency inside a flat stretch of the pmf (wide Gaussians) or one in an unused
    # header field decodes "validly". Measured here: >= 97 % of flips raise; all outcomes are clean.
    tb = E.gaussian_tables()
    rng = np.random.default_rng(7)
    detected = total = 0
    for trial in range(300):
        n = int(rng.choice([30, 300, 3000]))
        ix = rng.integers(0, tb.num_tables, n).astype(np.int32)
        y = np.floor(rng.normal(0, E.SCALE_TABLE[ix].astype(np.float64)) + 0.5).astype(np.int32)
        b = bytearray(E.encode(y, ix, tb))
        f = int(rng.integers(8 * len(b)))
        b[f // 8] ^= 1 << (f % 8)
        total += 1
        detected += _check("bitflip_gaussian", b, ix, tb) is None
    assert detected >= 0.97 * total, (detected, total)


@pytest.mark.slow
@pytest.mark.skipif(not (os.environ.get("RAC_VIDEO_SANITIZE_TESTS") == "1" or os.environ.get("RAC_VIDEO_SLOW_TESTS") == "1"),
                    reason="opt-in: builds rac_video._C with ASan/UBSan (minutes); set RAC_VIDEO_SANITIZE_TESTS=1")
def test_fuzz_under_sanitizers(tmp_path):
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "fuzz.json"
    proc = subprocess.run([sys.executable, os.path.join(root, "tools", "fuzz_rans.py"), "--examples", "100",
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from rac_video.eval.report import check_record

    summary = check_record(json.loads(out.read_text()))
    assert summary["result"] == "pass" and summary["fuzz_cases"] >= 1000
