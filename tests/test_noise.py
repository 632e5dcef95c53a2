"""Forward noising z = α(γ)·y + σ(γ)·√12·(U − ½): every backend against a float64 evaluation.

Tolerance: |got − exact| ≤ TOL_ULPS·2^-24·(α|y| + σ|ξ|) in float64, |γ| ≤ 80.
"""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backends import cases
from rac_video import ops

TOL_ULPS = 8
U32 = 2.0**-24
SHAPES = [(1, 1, 1, 1), (2, 3, 17, 29), (1, 16, 9, 65), (0, 4, 5, 5), (2, 3, 0, 4)]


def _inputs(shape, gamma_channels=1, seed=0, lo=-8.0, hi=12.0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    N, C, H, W = shape
    y = torch.randn(shape, generator=g) * 2 + 0.1
    U = torch.rand(shape, generator=g)
    gamma = torch.rand((N, C if gamma_channels == "C" else 1, H, W), generator=g) * (hi - lo) + lo
    return y.to(device), U.to(device), gamma.to(device)


def _assert_close(got, y, gamma, u):
    """u = U − ½ (float64)."""
    yd, gd = y.double(), gamma.double()
    a, s = torch.sigmoid(gd).sqrt(), torch.sigmoid(-gd).sqrt()
    xi = math.sqrt(12.0) * u
    exact, scale = a * yd + s * xi, a * yd.abs() + s * xi.abs()
    err = (got.double() - exact).abs()
    bound = TOL_ULPS * U32 * scale + 1e-30
    assert bool((err <= bound).all()), f"error {float((err / bound).max()):.2f}× the bound"


ALL = [pytest.param("torch", "cpu", id="torch-cpu"), *cases(ops.forward_noise)]


@pytest.mark.parametrize("backend,device", ALL)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gamma_channels", [1, "C"])
def test_given_uniform_close_to_float64(backend, device, shape, gamma_channels):
    y, U, gamma = _inputs(shape, gamma_channels, seed=sum(shape), device=device)
    poison = torch.full(shape, float("nan"), device=device)
    got = ops.forward_noise(y, gamma, U, backend=backend, out=poison)
    assert ops.forward_noise.last_backend == backend and got.data_ptr() == poison.data_ptr()
    _assert_close(got, y, gamma, U.double() - 0.5)


@pytest.mark.parametrize("backend,device", ALL)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gamma_channels", [1, "C"])
def test_hashed_uniform_is_the_dither(backend, device, shape, gamma_channels):
    y, _, gamma = _inputs(shape, gamma_channels, seed=1 + sum(shape), device=device)
    seed, frame = 0xC0FFEE, 2**32 - 1   # frames of the batch wrap around like uint32
    poison = torch.full(shape, float("nan"), device=device)
    got = ops.forward_noise(y, gamma, seed=seed, dither_frame=frame, backend=backend, out=poison)
    assert got.data_ptr() == poison.data_ptr()
    u = ops.hashed_dither_reference(shape, seed, frame, device=device).double()
    _assert_close(got, y, gamma, u)
    # the same as passing U = dither + ½ explicitly (U − ½ is exact in float32 here)
    explicit = ops.forward_noise(y, gamma, (u + 0.5).float(), backend=backend)
    assert torch.equal(got, explicit)


@pytest.mark.parametrize("backend,device", cases(ops.forward_noise))
def test_wide_gamma_and_in_place(backend, device):
    y, U, gamma = _inputs((1, 4, 21, 37), "C", seed=9, lo=-80.0, hi=80.0, device=device)
    _assert_close(ops.forward_noise(y, gamma, U, backend=backend), y, gamma, U.double() - 0.5)
    expect = ops.forward_noise(y, gamma, seed=3, backend=backend)
    yy = y.clone()
    assert ops.forward_noise(yy, gamma, seed=3, backend=backend, out=yy).data_ptr() == yy.data_ptr()
    assert torch.equal(yy, expect)


@pytest.mark.parametrize("backend,device", cases(ops.forward_noise))
def test_non_contiguous_inputs(backend, device):
    y, U, gamma = _inputs((1, 3, 8, 10), 1, seed=4, device=device)
    nc = lambda t: t.transpose(2, 3).contiguous().transpose(2, 3)  # noqa: E731
    assert torch.equal(ops.forward_noise(nc(y), nc(gamma), nc(U), backend=backend),
                       ops.forward_noise(y, gamma, U, backend=backend))


def test_noise_statistics_match_the_schedule():
    # z has mean α·y and variance σ² per element: check on a constant y and a two-level γ map
    shape = (1, 8, 64, 64)
    y = torch.full(shape, 0.7)
    gamma = torch.where(torch.arange(64).view(1, 1, 1, 64) < 32, -2.0, 3.0).expand(1, 1, 64, 64).contiguous()
    z = ops.forward_noise(y, gamma, seed=11)
    for half, g in ((z[..., :32], -2.0), (z[..., 32:], 3.0)):
        a, s = math.sqrt(1 / (1 + math.exp(-g))), math.sqrt(1 / (1 + math.exp(g)))
        assert abs(float(half.mean()) - a * 0.7) < 0.03 * s
        assert abs(float(half.var()) / s**2 - 1) < 0.03
        assert float(half.min()) >= a * 0.7 - s * math.sqrt(3) - 1e-5      # uniform: bounded by ±√3·σ
        assert float(half.max()) <= a * 0.7 + s * math.sqrt(3) + 1e-5


def _backends_here():
    return [b for b, why in ops.forward_noise.reasons("cpu").items() if not why]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), frame=st.integers(0, 2**32 - 1), g=st.floats(-30, 30, width=32),
       shape=st.tuples(st.integers(1, 2), st.integers(1, 4), st.integers(1, 5), st.integers(1, 7)))
def test_property_backends_agree_and_ddim_inverts(seed, frame, g, shape):
    y = torch.randn(shape, generator=torch.Generator().manual_seed(seed % 1000)) + 0.2
    gamma = torch.full((shape[0], 1, *shape[2:]), g)
    zs = {b: ops.forward_noise(y, gamma, seed=seed, dither_frame=frame, backend=b) for b in _backends_here()}
    u = ops.hashed_dither_reference(shape, seed, frame).double()
    for z in zs.values():
        _assert_close(z, y, gamma, u)
    # one DDIM step with the true noise ξ back to γ = +60 returns y (x̂₀ = (z − σξ)/α)
    xi = (math.sqrt(12.0) * u).float()
    back = ops.ddim_step(zs["torch"], xi, gamma, torch.full_like(gamma, 60.0))
    a, s = math.sqrt(1 / (1 + math.exp(-g))), math.sqrt(1 / (1 + math.exp(g)))
    tol = 12 * U32 * ((zs["torch"].double().abs() + s * xi.double().abs()) / a + y.double().abs())
    assert bool(((back.double() - y.double()).abs() <= tol + 1e-12).all())


@pytest.mark.parametrize("backend", ["torch", "cpu", "triton"])
def test_bad_inputs_raise_clearly(backend):
    if backend not in _backends_here():
        pytest.skip(ops.forward_noise.reasons("cpu")[backend])
    y, U, gamma = _inputs((1, 2, 4, 4))
    call = lambda *a, **k: ops.forward_noise(*a, backend=backend, **k)  # noqa: E731
    with pytest.raises(ValueError, match="exactly one"):
        call(y, gamma)
    with pytest.raises(ValueError, match="exactly one"):
        call(y, gamma, U, seed=1)
    with pytest.raises(TypeError, match="y must have dtype"):
        call(y.double(), gamma, U)
    with pytest.raises(TypeError, match="uniform must have dtype"):
        call(y, gamma, U.double())
    with pytest.raises(TypeError, match="gamma must have dtype"):
        call(y, gamma.half(), seed=0)
    with pytest.raises(ValueError, match="uniform has shape"):
        call(y, gamma, U[..., :3])
    with pytest.raises(ValueError, match="gamma must be"):
        call(y, torch.zeros(1, 3, 4, 4), seed=0)
    with pytest.raises(ValueError, match="y must be"):
        call(y[0], gamma[0], seed=0)
    with pytest.raises(ValueError, match="on meta"):
        call(y, gamma.to("meta"), seed=0)
    with pytest.raises(ValueError, match="seed"):
        call(y, gamma, seed=2**32)
    with pytest.raises(ValueError, match="frame"):
        call(y, gamma, seed=0, dither_frame=-1)
    for bad in (torch.empty(1, 2, 4, 4, dtype=torch.float64), torch.empty(2, 2, 4, 4),
                torch.empty(1, 2, 4, 4).transpose(2, 3)):
        with pytest.raises(ValueError, match="out must be"):
            call(y, gamma, U, out=bad)
