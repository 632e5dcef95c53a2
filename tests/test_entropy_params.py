"""Fused entropy parameters: every backend against the torch reference (integers bit-exact) and float64."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backends import cases
from rac_video import entropy as E
from rac_video import ops, schedule

SHAPES = [(1, 1, 1, 1), (2, 3, 17, 29), (1, 16, 9, 65), (0, 4, 5, 5), (2, 3, 0, 4)]


def _inputs(shape, level_channels=1, seed=0, quality=7, lo=0.01, hi=1000.0):
    g = torch.Generator().manual_seed(seed)
    N, C, H, W = shape
    mu = torch.randn(shape, generator=g) * 30 + 0.25
    scale = torch.exp(torch.empty(shape).uniform_(math.log(lo), math.log(hi), generator=g))
    lc = 1 if level_channels == 1 else C
    level = torch.randint(0, 16, (N, lc, H, W), generator=g, dtype=torch.int32)
    delta = schedule.level_table(quality).delta
    # symbols near the mean, in the tails and far beyond (escapes, floored likelihoods)
    spread = torch.tensor([0.3, 1.0, 3.0, 8.0, 1e4])[torch.randint(0, 5, shape, generator=g)]
    y = mu + torch.randn(shape, generator=g) * scale * spread
    k = ops.quantize_reference(y, level, delta, 11, 2)
    return mu, scale, level, delta, k


def _bits_float64(mu, scale, level, delta, k, seed, frame):
    """−log2 P(k) in float64 from the float32 m and s' (independent of the reference's code path)."""
    d = delta[level.long()].expand_as(mu)
    m = (mu / d + ops.hashed_dither_reference(mu.shape, seed, frame)).double().numpy()
    s = np.maximum((scale / d).numpy(), np.float32(E.SCALE_MIN)).astype(np.float64)
    v = -np.abs(k.double().numpy() - m)
    phi = np.vectorize(lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0)))
    p = phi((v + 0.5) / s) - phi((v - 0.5) / s) if v.size else v
    return torch.from_numpy(-np.log2(np.maximum(p, E.LIKELIHOOD_FLOOR)))


@pytest.mark.parametrize("backend,device", cases(ops.entropy_params))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("level_channels", [1, "C"])
def test_backends_equal_reference(backend, device, shape, level_channels):
    mu, scale, level, delta, k = (t.to(device) for t in _inputs(shape, level_channels, seed=sum(shape)))
    ref = ops.entropy_params_reference(mu, scale, level, delta, 123, 5, k=k)
    poison = (torch.full(shape, -777, dtype=torch.int32, device=device),
              torch.full(shape, -777, dtype=torch.int32, device=device),
              torch.full(shape, float("nan"), device=device))
    got = ops.entropy_params(mu, scale, level, delta, 123, 5, k=k, out=poison, backend=backend)
    assert ops.entropy_params.last_backend == backend
    assert all(g.data_ptr() == p.data_ptr() for g, p in zip(got, poison))
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    torch.testing.assert_close(got[2].double(), ref[2].double(), atol=ops.BITS_ATOL, rtol=ops.BITS_RTOL)
    # without k: the same integers, no bits
    off, idx, bits = ops.entropy_params(mu, scale, level, delta, 123, 5, backend=backend)
    assert bits is None and torch.equal(off, ref[0]) and torch.equal(idx, ref[1])


@pytest.mark.parametrize("backend,device", cases(ops.entropy_params))
@pytest.mark.parametrize("buckets", [1, 2, 16, 256])
def test_mean_bucket_index_bit_exact(backend, device, buckets):
    """index = scale index · B + bucket of m − offset, the same integers on every backend, including
    non-finite means (bucket 0) and means exactly on bucket edges."""
    mu, scale, level, delta, _ = (t.to(device) for t in _inputs((2, 5, 13, 31), "C", seed=buckets))
    mu[0, 0, 0, :4] = torch.tensor([float("nan"), float("inf"), -float("inf"), 3e9])
    d = delta.to(device)[level.long()]
    u = ops.hashed_dither_reference(tuple(mu.shape), 9, 1, device=device)
    mu[1, 1, 2, :8] = (torch.arange(8, device=device) / 8.0 - 0.5 - u[1, 1, 2, :8]) * d[1, 1, 2, :8]  # m on edges
    ref = ops.entropy_params_reference(mu, scale, level, delta, 9, 1, mean_buckets=buckets)
    got = ops.entropy_params(mu, scale, level, delta, 9, 1, mean_buckets=buckets, backend=backend)
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    plain = ops.entropy_params_reference(mu, scale, level, delta, 9, 1)[1]
    assert torch.equal(ref[1] // buckets, plain)                      # the scale index is kept
    bucket = ref[1] % buckets
    assert int(bucket.min()) >= 0 and int(bucket.max()) <= buckets - 1
    assert int(bucket[0, 0, 0, 0]) == 0                              # NaN mean
    finite = torch.isfinite(mu / d) & (ref[0].abs() < 2**30)
    m = mu / d + u
    expect = E.mean_bucket(m - ref[0].float()) if buckets == E.MEAN_BUCKETS else None
    if expect is not None:
        assert torch.equal(bucket[finite], expect[finite])


def test_bad_mean_buckets():
    mu, scale, level, delta, _ = _inputs((1, 2, 3, 4))
    for bad in (0, 3, 512, 2.0, True):
        with pytest.raises(ValueError, match="mean_buckets"):
            ops.entropy_params(mu, scale, level, delta, 0, 0, mean_buckets=bad)


def test_reference_matches_codec_expression_and_scale_index_np():
    mu, scale, level, delta, k = _inputs((2, 8, 24, 40), "C", seed=4)
    off, idx, _ = ops.entropy_params_reference(mu, scale, level, delta, 7, 1)
    d = delta[level.long()]
    u = ops.hashed_dither(tuple(mu.shape), 7, 1)
    assert torch.equal(off, torch.floor(mu / d + u + 0.5).to(torch.int32))  # what the codec computes today
    assert np.array_equal(idx.numpy(), E.scale_index_np((scale / d).numpy()))
    assert int(idx.min()) == 0 and int(idx.max()) == E.SCALE_TABLE.size - 1  # both ends of the table are hit


def test_reference_bits_match_float64_likelihood():
    mu, scale, level, delta, k = _inputs((1, 4, 16, 20), 1, seed=9)
    _, _, bits = ops.entropy_params_reference(mu, scale, level, delta, 3, 0, k=k)
    exact = _bits_float64(mu, scale, level, delta, k, 3, 0)
    torch.testing.assert_close(bits.double(), exact, atol=1e-6, rtol=1e-6)  # float32 rounding of the output
    assert float(bits.max()) == pytest.approx(-math.log2(E.LIKELIHOOD_FLOOR), rel=1e-6)  # floored far tails
    assert float(bits.min()) >= 0


@pytest.mark.parametrize("backend,device", cases(ops.entropy_params))
def test_bits_tolerance_over_scales(backend, device):
    # scales 0.01..1000 over every Δ of a fine and a coarse quality: s/Δ from 0.006 to 2e4
    for quality in (0, 15):
        mu, scale, level, delta, k = _inputs((1, 8, 32, 48), "C", seed=quality, quality=quality)
        got = ops.entropy_params(*(t.to(device) for t in (mu, scale, level, delta)), 1, 0, k=k.to(device),
                                 backend=backend)[2].cpu().double()
        exact = _bits_float64(mu, scale, level, delta, k, 1, 0)
        err = (got - exact).abs()
        assert float((err - ops.BITS_ATOL - ops.BITS_RTOL * exact).max()) <= 0, float(err.max())


@pytest.mark.parametrize("backend,device", cases(ops.entropy_params))
def test_scale_index_at_bounds(backend, device):
    # r = s/Δ exactly on, just above and just below every bound (Δ = 1), beyond both table ends
    b = E.SCALE_BOUNDS
    r = np.concatenate([b, np.nextafter(b, np.float32(np.inf)), np.nextafter(b, np.float32(0)),
                        np.float32([0, 1e-30, 0.05, 1e3, 1e6, 3e38]), -b[:3]]).astype(np.float32)
    scale = torch.from_numpy(r).view(1, 1, 1, -1).to(device)
    mu = torch.zeros_like(scale)
    level = torch.zeros(scale.shape, dtype=torch.int32, device=device)
    delta = torch.ones(1, device=device)
    _, idx, _ = ops.entropy_params(mu, scale, level, delta, 0, backend=backend)
    assert np.array_equal(idx.cpu().numpy().ravel(), E.scale_index_np(r))


@pytest.mark.parametrize("backend,device", cases(ops.entropy_params))
def test_offsets_at_half_integers_and_limits(backend, device):
    # means placed so m + 1/2 lands on and next to integers after the dither; and huge means (clamp)
    u = ops.hashed_dither_reference((1, 1, 1, 64), 5, 0)
    base = torch.arange(64, dtype=torch.float32).view(1, 1, 1, 64) - 32 - 0.5 - u
    mu = torch.cat([base, base + 1e-6, torch.full_like(base, 3e9), torch.full_like(base, -3e9)], dim=3)
    mu = mu.to(device)
    level = torch.zeros(mu.shape, dtype=torch.int32, device=device)
    delta = torch.ones(1, device=device)
    scale = torch.ones_like(mu)
    ref = ops.entropy_params_reference(mu, scale, level, delta, 5)
    got = ops.entropy_params(mu, scale, level, delta, 5, backend=backend)
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    assert int(ref[0].max()) == 2**30 and int(ref[0].min()) == -(2**30)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # (the Triton interpreter's numpy overflows)
@pytest.mark.parametrize("backend,device", cases(ops.entropy_params))
def test_non_finite_inputs_give_the_same_integers(backend, device):
    special = torch.tensor([float("nan"), float("inf"), -float("inf"), 0.0, -0.0, 1e-45, 3e38, -3e38])
    mu = special.repeat_interleave(8).view(1, 1, 1, -1).to(device)
    scale = special.repeat(8).view(1, 1, 1, -1).to(device)
    level = torch.zeros(mu.shape, dtype=torch.int32, device=device)
    delta = torch.tensor([0.5], device=device)
    ref = ops.entropy_params_reference(mu, scale, level, delta, 9)
    got = ops.entropy_params(mu, scale, level, delta, 9, backend=backend)
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    off, idx = ref[0].view(8, 8).cpu(), ref[1].view(8, 8).cpu()
    assert (off[0] == -(2**30)).all() and (off[1] == 2**30).all() and (off[2] == -(2**30)).all()
    last = E.SCALE_TABLE.size - 1
    assert (idx[:, 0] == last).all() and (idx[:, 1] == last).all() and (idx[:, 2] == 0).all()


@settings(max_examples=40, deadline=None)
@given(mus=st.lists(st.floats(-1e5, 1e5, width=32), min_size=1, max_size=30),
       s=st.floats(2.0**-10, 2.0**14, width=32), d=st.floats(2.0**-8, 80, width=32), seed=st.integers(0, 2**32 - 1))
def test_property_cpu_equals_reference(mus, s, d, seed):
    mu = torch.tensor(mus, dtype=torch.float32).view(1, 1, 1, -1)
    scale = torch.full_like(mu, s)
    level = torch.zeros(mu.shape, dtype=torch.int32)
    delta = torch.tensor([d], dtype=torch.float32)
    k = torch.round(mu / d).to(torch.int32)
    ref = ops.entropy_params_reference(mu, scale, level, delta, seed, k=k)
    got = ops.entropy_params(mu, scale, level, delta, seed, k=k)  # cpu when built, else the reference
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    torch.testing.assert_close(got[2].double(), ref[2].double(), atol=ops.BITS_ATOL, rtol=ops.BITS_RTOL)


def test_bad_inputs_raise_clearly():
    mu, scale, level, delta, k = _inputs((1, 2, 4, 4))
    with pytest.raises(TypeError, match="mu must have dtype"):
        ops.entropy_params(mu.double(), scale, level, delta, 0)
    with pytest.raises(TypeError, match="scale must have dtype"):
        ops.entropy_params(mu, scale.half(), level, delta, 0)
    with pytest.raises(TypeError, match="k must have dtype"):
        ops.entropy_params(mu, scale, level, delta, 0, k=k.float())
    with pytest.raises(ValueError, match="scale has shape"):
        ops.entropy_params(mu, scale[..., :3], level, delta, 0)
    with pytest.raises(ValueError, match="k has shape"):
        ops.entropy_params(mu, scale, level, delta, 0, k=k[:, :1])
    with pytest.raises(ValueError, match=r"mu must be \(N,C,H,W\)"):
        ops.entropy_params(mu[0], scale[0], level[0], delta, 0)
    with pytest.raises(ValueError, match="level values"):
        ops.entropy_params(mu, scale, level + 16, delta, 0)
    with pytest.raises(ValueError, match="seed"):
        ops.entropy_params(mu, scale, level, delta, -1)
    with pytest.raises(ValueError, match="out"):
        ops.entropy_params(mu, scale, level, delta, 0, k=k, out=(torch.empty_like(k), torch.empty_like(k), None))
    with pytest.raises(ValueError, match="out index"):
        ops.entropy_params(mu, scale, level, delta, 0, out=(torch.empty_like(k), torch.empty_like(mu), None))
    with pytest.raises(TypeError):
        ops.entropy_params(mu.numpy(), scale, level, delta, 0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="scale is on"):
            ops.entropy_params(mu.cuda(), scale, level.cuda(), delta.cuda(), 0)
    else:
        meta = torch.empty(mu.shape, device="meta")
        with pytest.raises(ValueError, match="is on"):
            ops.entropy_params(mu, meta, level, delta, 0, backend="torch")


def test_non_contiguous_inputs_are_accepted():
    mu, scale, level, delta, k = _inputs((1, 3, 8, 10))
    t = lambda x: x.transpose(2, 3).contiguous().transpose(2, 3)  # noqa: E731
    ref = ops.entropy_params_reference(mu, scale, level, delta, 4, k=k)
    got = ops.entropy_params(t(mu), t(scale), level, delta, 4, k=t(k))
    assert torch.equal(got[0], ref[0]) and torch.equal(got[1], ref[1])
    torch.testing.assert_close(got[2], ref[2], atol=ops.BITS_ATOL, rtol=ops.BITS_RTOL)


@pytest.mark.skipif(__import__("rac_video._native", fromlist=["x"]).cpu_module()[0] is None,
                    reason="C++ module not built (the rANS coder needs it)")
def test_symbols_round_trip_through_the_coder():
    # the codec's use: code k − offset with the op's indexes, decode, add the offset back
    mu, scale, level, delta, k = _inputs((1, 8, 16, 16), 1, seed=21, lo=0.2, hi=50)
    off, idx, bits = ops.entropy_params(mu, scale, level, delta, 11, 2, k=k)
    tb = E.gaussian_tables()
    sym = (k - off).numpy()
    data = E.encode(sym, idx.numpy(), tb)
    back = torch.from_numpy(E.decode(data, idx.numpy(), tb)) + off
    assert torch.equal(back, k)


_COMPILE = r'''
import re
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from rac_video.kernels import entropy_params as ep

F, I, P = "*fp32", "*i32", "constexpr"
sig = dict(mu_ptr=F, scale_ptr=F, level_ptr=I, delta_ptr=F, levels="i32", bounds_ptr=F, nb="i32", k_ptr=I, off_ptr=I, idx_ptr=I,
           bits_ptr=F, total="i64", C="i32", H="i32", W="i32", LC="i32", seed="i64", dither_frame="i32",
           scale_min="fp32", floor_p="fp32", BUCKETS=P, TOP=P, LOG=P, HAS_BITS=P, SERIES=P, BLOCK=P)
for bits in (False, True):
    consts = dict(BUCKETS=16, TOP=32, LOG=6, HAS_BITS=bits, SERIES=8.0, BLOCK=1024)
    ptx = triton.compile(ASTSource(fn=ep._entropy_params_kernel, signature=sig, constexprs=consts),
                         target=GPUTarget("cuda", 90, 32)).asm["ptx"]
    # the two divisions behind the integers (mu/delta, scale/delta) must be IEEE round-to-nearest
    assert re.search(r"div\.rn\.f32", ptx), "no div.rn in the PTX"
print("compiled 2")
'''


def test_triton_kernel_compiles_for_sm90():
    # the interpreter accepts code the GPU compiler rejects: compile the real kernel offline
    import subprocess
    import sys

    try:
        from triton.backends.compiler import GPUTarget  # noqa: F401
        from triton.compiler import ASTSource  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"this Triton has no offline compile API ({exc})")
    import os

    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    r = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and "ptxas" in r.stderr and "not found" in r.stderr.lower():
        pytest.skip("Triton's ptxas is not available here")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "compiled 2" in r.stdout
