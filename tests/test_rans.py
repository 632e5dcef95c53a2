"""rANS coder: bit-exact round trips, tables, size vs ideal, malformed streams."""
import math

import numpy as np
import pytest

from rac_video import entropy as E
from rac_video.entropy import tables as T

pytestmark = pytest.mark.skipif(__import__("rac_video._native", fromlist=["x"]).cpu_module()[0] is None,
                                reason="C++ module not built")


def _gaussian_data(n, lo=0.11, hi=64.0, seed=0):
    rng = np.random.default_rng(seed)
    s = np.exp(rng.uniform(math.log(lo), math.log(hi), n)).astype(np.float32)
    mean = rng.uniform(-0.5, 0.5, n)
    y = np.floor(rng.normal(mean, s) - mean + 0.5).astype(np.int32)
    return y, E.scale_index_np(s)


def test_scale_table_pinned():
    assert E.SCALE_TABLE.dtype == np.float32 and E.SCALE_TABLE.size == 64
    assert abs(float(E.SCALE_TABLE[0]) - 0.11) < 1e-7 and abs(float(E.SCALE_TABLE[-1]) - 256) < 1e-4
    assert np.all(np.diff(E.SCALE_TABLE) > 0)
    assert np.all((E.SCALE_BOUNDS > E.SCALE_TABLE[:-1]) & (E.SCALE_BOUNDS < E.SCALE_TABLE[1:]))
    # every table scale maps to its own index; bounds map down, the next float up
    assert np.array_equal(E.scale_index_np(E.SCALE_TABLE), np.arange(64))
    assert np.array_equal(E.scale_index_np(E.SCALE_BOUNDS), np.arange(63))
    up = np.nextafter(E.SCALE_BOUNDS, np.float32(np.inf))
    assert np.array_equal(E.scale_index_np(up), np.arange(1, 64))
    assert E.scale_index_np([0.0, -1.0, 1e9, np.inf]).tolist() == [0, 0, 63, 63]


def test_gaussian_tables_deterministic_and_valid():
    tb = E.gaussian_tables()
    assert tb is E.gaussian_tables()  # cached
    assert tb.num_tables == 64 and tb.version == "gaussian-v1"
    # pinned: a change here changes every bitstream (bump SCALE_TABLE_VERSION)
    assert tb.fingerprint == 0x6E1137FC
    T.gaussian_tables.cache_clear()
    assert E.gaussian_tables().fingerprint == tb.fingerprint
    for t in range(tb.num_tables):
        f = tb.freqs[t]
        assert f.min() >= 1 and int(f.sum()) == 1 << E.PRECISION
        body = f[:-1]
        # symmetric around 0 up to the rounding fix-up on the largest frequencies
        assert np.abs(body.astype(np.int64) - body[::-1]).sum() <= 2 * body.size
        assert tb.min_values[t] == -(body.size // 2)
        assert np.array_equal(tb.native().cdf(t), tb.cdf(t))


def test_quantize_pmf():
    f = E.quantize_pmf(np.array([0.5, 0.5 - 1e-12, 0, 0]), 0.0)
    assert f.min() >= 1 and int(f.sum()) == 65536
    f = E.quantize_pmf(np.full(1000, 1e-3), 0.0)
    assert f.min() >= 1 and int(f.sum()) == 65536
    f = E.quantize_pmf(np.full(65535, 1 / 65535), 0.0)
    assert np.all(f == 1)
    with pytest.raises(ValueError):
        E.quantize_pmf(np.full(65536, 1e-5), 0.0)
    with pytest.raises(ValueError):
        E.quantize_pmf(np.array([0.5, np.nan]), 0.0)


@pytest.mark.parametrize("scales", [(0.11, 0.5), (0.11, 64.0), (20.0, 64.0), (64.0, 256.0), (300.0, 5000.0)])
@pytest.mark.parametrize("lanes,chunk", [(None, 1 << 16), (1, 64), (4, 256), (64, 1024)])
def test_round_trip_gaussian(scales, lanes, chunk):
    y, ix = _gaussian_data(5000, *scales, seed=int(scales[0] * 10))
    tb = E.gaussian_tables()
    data = E.encode(y, ix, tb, lanes=lanes, chunk_size=chunk)
    assert isinstance(data, bytes)
    out = E.decode(data, ix, tb)
    assert out.dtype == np.int32 and np.array_equal(out, y)
    for th in (1, 2):
        assert E.encode(y, ix, tb, lanes=lanes, chunk_size=chunk, threads=th) == data
        assert np.array_equal(E.decode(data, ix, tb, threads=th), y)


def test_shapes_empty_single():
    tb = E.gaussian_tables()
    for shape in [(0,), (3, 0, 5), (1,), (1, 1, 1, 1), (2, 3, 4, 5), (7,) * 8, ()]:
        rng = np.random.default_rng(len(shape))
        y = rng.integers(-40, 40, size=shape).astype(np.int32)
        ix = rng.integers(0, 64, size=shape).astype(np.int32)
        out = E.decode(E.encode(y, ix, tb), ix, tb)
        assert out.shape == y.shape and np.array_equal(out, y)


def test_all_tail_and_extreme_values():
    tb = E.gaussian_tables()
    imax, imin = np.iinfo(np.int32).max, np.iinfo(np.int32).min
    y = np.array([imax, imin, imax - 1, imin + 1, 2, -2, 3, -3, 1000, -1000, 65537, -65537] * 50, np.int32)
    for table in (0, 10, 63):
        ix = np.full(y.shape, table, np.int32)
        data = E.encode(y, ix, tb)
        assert np.array_equal(E.decode(data, ix, tb), y)
        # size equals the ideal content of the escape coding up to the flushed states and header
        assert len(data) * 8 - tb.ideal_bits(y, ix) < 8 * (64 + 4 * 8 + 16)


def test_size_within_half_percent_of_ideal():
    y, ix = _gaussian_data(10**6)
    tb = E.gaussian_tables()
    data = E.encode(y, ix, tb)
    ideal = tb.ideal_bits(y, ix) / 8
    assert len(data) <= 1.005 * ideal, (len(data), ideal)
    assert np.array_equal(E.decode(data, ix, tb), y)


@pytest.mark.parametrize("n,lanes,chunk", [(3000, None, 1 << 16), (98304, None, 1 << 16), (20000, 4, 4096),
                                           (200000, 64, 1 << 14), (1, None, 1 << 16)])
def test_stream_bits_predicts_the_coded_size(n, lanes, chunk):
    """stream_bits (ideal bits + header + flushed lane states) is within 0.3 % + 4 bytes of encode."""
    y, ix = _gaussian_data(n, seed=n)
    tb = E.gaussian_tables()
    got = 8 * len(E.encode(y, ix, tb, lanes=lanes, chunk_size=chunk))
    est = E.stream_bits(y, ix, tb, lanes=lanes, chunk_size=chunk)
    assert abs(got - est) <= 0.003 * est + 32, (got, est)
    assert est > tb.ideal_bits(y, ix)                      # the fixed costs are counted


def test_from_pmfs_factorized():
    rng = np.random.default_rng(3)
    C, S = 12, 40
    pmf = rng.dirichlet(np.ones(S) * 0.5, size=C) * 0.999
    offsets = rng.integers(-30, 0, C)
    tb = E.CdfTables.from_pmfs(pmf, offsets)
    assert tb.num_tables == C and tb.fingerprint != E.gaussian_tables().fingerprint
    ix = np.repeat(np.arange(C, dtype=np.int32), 500).reshape(C, 20, 25)
    y = np.stack([rng.choice(S, size=(20, 25), p=pmf[c] / pmf[c].sum()) + offsets[c] for c in range(C)]).astype(np.int32)
    y[0, 0, :5] = [1000, -1000, 50, -50, 0]  # outside the support: escapes
    data = E.encode(y, ix, tb)
    assert np.array_equal(E.decode(data, ix, tb), y)
    tb2 = E.CdfTables.from_pmfs(pmf[:, :10], offsets, lengths=np.full(C, 7))
    assert np.array_equal(E.decode(E.encode(y, ix, tb2), ix, tb2), y)
    with pytest.raises(ValueError):
        E.CdfTables.from_pmfs(pmf, offsets[:3])
    with pytest.raises(ValueError):
        E.CdfTables.from_pmfs(-pmf, offsets)


def test_encode_bad_arguments():
    tb = E.gaussian_tables()
    y = np.zeros(10, np.int32)
    with pytest.raises(ValueError):
        E.encode(y, np.full(10, 64), tb)
    with pytest.raises(ValueError):
        E.encode(y, np.full(10, -1), tb)
    with pytest.raises(ValueError):
        E.encode(y, np.zeros(9, np.int32), tb)
    with pytest.raises(ValueError):
        E.encode(y, np.zeros(10, np.int32), tb, lanes=3)
    with pytest.raises(ValueError):
        E.encode(y, np.zeros(10, np.int32), tb, lanes=8, chunk_size=4)
    with pytest.raises(ValueError):
        E.encode(np.array([2**40]), np.zeros(1, np.int32), tb)
    with pytest.raises(TypeError):
        E.encode(y.astype(np.float32), np.zeros(10, np.int32), tb)


def test_decode_errors():
    tb = E.gaussian_tables()
    y, ix = _gaussian_data(3000, seed=5)
    data = E.encode(y, ix, tb, lanes=4, chunk_size=1024)
    bad = [b"", b"RA", data[:-1], data[:-2], data + b"\0\0", b"XX" + data[2:], data[:2] + b"\x09" + data[3:]]
    for d in bad:
        with pytest.raises(E.BitstreamError):
            E.decode(d, ix, tb)
    with pytest.raises(E.BitstreamError):  # wrong number of indexes
        E.decode(data, ix[:-1], tb)
    other = E.CdfTables.from_pmfs(np.full((64, 3), 0.3), np.full(64, -1))
    with pytest.raises(E.BitstreamError, match="other tables"):
        E.decode(data, ix, other)
    with pytest.raises(E.BitstreamError):
        E.decode(data, np.full_like(ix, 99), tb)
    assert issubclass(E.BitstreamError, ValueError)


def test_low_rate_streams_use_fewer_lanes():
    """Lanes are chosen from the information content too (≥ BITS_PER_LANE bits each): a near-certain
    stream of 40 000 symbols codes with one lane instead of eight, smaller by ~7 flushed states,
    and the estimate still matches the coded size."""
    tb = E.gaussian_tables()
    rng = np.random.default_rng(3)
    y = (rng.random(40_000) < 0.002).astype(np.int32)            # almost all zeros
    ix = np.zeros(y.size, np.int32)                             # the narrowest table (scale 0.11)
    ideal = tb.ideal_bits(y, ix)
    assert ideal < E.rans.BITS_PER_LANE
    assert E.rans._default_lanes(y.size) == 8 and E.rans._default_lanes(y.size, ideal) == 1
    data = E.encode(y, ix, tb)
    assert data == E.encode(y, ix, tb, lanes=1)
    assert len(E.encode(y, ix, tb, lanes=8)) - len(data) >= 7 * 24 // 8 - 2
    assert np.array_equal(E.decode(data, ix, tb), y)
    assert abs(E.stream_bits(y, ix, tb) - 8 * len(data)) <= 64
    rich = rng.integers(-3, 4, 40_000).astype(np.int32)         # a high-rate stream keeps its eight lanes
    assert E.rans._default_lanes(rich.size, tb.ideal_bits(rich, np.full(rich.size, 20, np.int32))) == 8
