"""Elementwise DDIM step: every backend against a float64 evaluation of the formula.

Tolerance (stated once, used everywhere): |got − exact| ≤ TOL_ULPS·2^-24·(A|z| + (σ_to + A·σ_from)|ε|),
A = α_to/α_from, all in float64 — a few float32 roundings of each term of the update, for |γ| ≤ 80.
"""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backends import cases
from rac_video import ops, schedule

TOL_ULPS = 8
U32 = 2.0**-24
SHAPES = [(1, 1, 1, 1), (2, 3, 17, 29), (1, 16, 9, 65), (0, 4, 5, 5), (2, 3, 0, 4), (1, 5, 3, 0)]
GAMMA_CHANNELS = [(1, 1), ("C", 1), (1, "C"), ("C", "C")]


def _exact(z, eps, gf, gt):
    """(float64 result, float64 error scale) of z' = α_to(z − σ_f ε)/α_f + σ_to ε."""
    z, eps, gf, gt = (t.double() for t in (z, eps, gf, gt))
    a_f, s_f = torch.sigmoid(gf).sqrt(), torch.sigmoid(-gf).sqrt()
    a_t, s_t = torch.sigmoid(gt).sqrt(), torch.sigmoid(-gt).sqrt()
    A = a_t / a_f
    return A * z + (s_t - A * s_f) * eps, A * z.abs() + (s_t + A * s_f) * eps.abs()


def _assert_close(got, z, eps, gf, gt, ulps=TOL_ULPS):
    exact, scale = _exact(z, eps, gf, gt)
    err = (got.double() - exact).abs()
    bound = ulps * U32 * scale + 1e-30
    worst = float((err / bound).max()) if err.numel() else 0.0
    assert bool((err <= bound).all()), f"error {worst:.2f}× the bound of {ulps} ulps"


def _inputs(shape, gch=(1, 1), seed=0, lo=-8.0, hi=12.0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    N, C, H, W = shape
    z = torch.randn(shape, generator=g) * 2 + 0.1       # never all zeros
    eps = torch.randn(shape, generator=g) + 0.05
    ch = lambda k: C if k == "C" else 1                 # noqa: E731
    gf = torch.rand((N, ch(gch[0]), H, W), generator=g) * (hi - lo) + lo
    gt = torch.rand((N, ch(gch[1]), H, W), generator=g) * (hi - lo) + lo
    return tuple(t.to(device) for t in (z, eps, gf, gt))


@pytest.mark.parametrize("backend,device", [pytest.param("torch", "cpu", id="torch-cpu"), *cases(ops.ddim_step)])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gch", GAMMA_CHANNELS, ids=lambda g: f"{g[0]}{g[1]}")
def test_backend_close_to_float64(backend, device, shape, gch):
    z, eps, gf, gt = _inputs(shape, gch, seed=sum(shape), device=device)
    poison = torch.full(shape, float("nan"), device=device)
    got = ops.ddim_step(z, eps, gf, gt, backend=backend, out=poison)
    assert ops.ddim_step.last_backend == backend and got.data_ptr() == poison.data_ptr()
    _assert_close(got, z, eps, gf, gt)
    fresh = ops.ddim_step(z, eps, gf, gt, backend=backend)
    assert fresh.is_contiguous() and torch.equal(fresh, got)


@pytest.mark.parametrize("backend,device", cases(ops.ddim_step))
def test_wide_gamma_range(backend, device):
    # |γ| ≤ 80: the whole documented domain, including steps away from and towards the data
    z, eps, gf, gt = _inputs((1, 4, 33, 40), ("C", "C"), seed=7, lo=-80.0, hi=80.0, device=device)
    _assert_close(ops.ddim_step(z, eps, gf, gt, backend=backend), z, eps, gf, gt)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")  # NaN → int in the Triton interpreter
@pytest.mark.parametrize("backend,device", cases(ops.ddim_step))
def test_in_place_and_nan(backend, device):
    z, eps, gf, gt = _inputs((2, 3, 5, 7), seed=3, device=device)
    expect = ops.ddim_step(z, eps, gf, gt, backend=backend)
    zz = z.clone()
    assert ops.ddim_step(zz, eps, gf, gt, backend=backend, out=zz).data_ptr() == zz.data_ptr()
    assert torch.equal(zz, expect)
    gf[0, 0, 1, 2] = float("nan")
    got = ops.ddim_step(z, eps, gf, gt, backend=backend)
    assert torch.isnan(got[0, :, 1, 2]).all() and int(torch.isnan(got).sum()) == 3


@pytest.mark.parametrize("backend,device", cases(ops.ddim_step))
def test_non_contiguous_inputs(backend, device):
    z, eps, gf, gt = _inputs((1, 3, 8, 10), ("C", 1), seed=4, device=device)
    nc = lambda t: t.transpose(2, 3).contiguous().transpose(2, 3)  # noqa: E731
    args = [nc(t) for t in (z, eps, gf, gt)]
    assert not any(a.is_contiguous() for a in args)
    assert torch.equal(ops.ddim_step(*args, backend=backend), ops.ddim_step(z, eps, gf, gt, backend=backend))


def _backends_here():
    return [b for b, why in ops.ddim_step.reasons("cpu").items() if not why]


@settings(max_examples=30, deadline=None)
@given(g=st.floats(-30, 30, width=32), shape=st.tuples(st.integers(1, 2), st.integers(1, 4),
                                                         st.integers(1, 6), st.integers(1, 9)),
       seed=st.integers(0, 2**16))
def test_property_same_gamma_is_identity(g, shape, seed):
    z, eps, _, _ = _inputs(shape, seed=seed)
    gamma = torch.full((shape[0], 1, *shape[2:]), g) + torch.rand((shape[0], 1, *shape[2:])) * 0.5
    for b in _backends_here():
        got = ops.ddim_step(z, eps, gamma, gamma, backend=b)
        if b == "torch":   # α·(z − σε)/α + σε: a few roundings
            assert bool(((got - z).abs() <= TOL_ULPS * U32 * (z.abs() + 2 * eps.abs())).all())
        else:              # A = 1 and B = 0 exactly
            assert torch.equal(got, z), b


@settings(max_examples=30, deadline=None)
@given(g_from=st.floats(-8, 12, width=32), seed=st.integers(0, 2**16))
def test_property_step_to_large_gamma_recovers_x0(g_from, seed):
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn((1, 3, 4, 5), generator=gen, dtype=torch.float64)
    eps = torch.randn((1, 3, 4, 5), generator=gen, dtype=torch.float64)
    gf = torch.full((1, 1, 4, 5), g_from, dtype=torch.float64)
    a, s = schedule.alpha_sigma(gf)
    z = (a * x0 + s * eps).float()
    gt = torch.full((1, 1, 4, 5), 40.0)
    sigma_to = math.sqrt(1 / (1 + math.exp(40.0)))
    for b in _backends_here():
        got = ops.ddim_step(z, eps.float(), gf.float(), gt, backend=b).double()
        # x̂₀ = (z − σε)/α: the float32 rounding of z and ε is amplified by 1/α (and σ/α)
        tol = sigma_to * eps.abs() + (TOL_ULPS + 2) * U32 * ((z.double().abs() + s * eps.abs()) / a + x0.abs())
        assert bool(((got - x0).abs() <= tol).all()), b


@settings(max_examples=25, deadline=None)
@given(gs=st.lists(st.floats(-8, 12, width=32), min_size=3, max_size=3), seed=st.integers(0, 2**16))
def test_property_steps_compose(gs, seed):
    # with a fixed ε, x̂₀ is the same after every step, so γ1 → γ2 → γ3 equals γ1 → γ3
    z, eps, _, _ = _inputs((1, 2, 3, 4), seed=seed)
    g1, g2, g3 = (torch.full((1, 1, 3, 4), v) for v in gs)
    for b in _backends_here():
        two = ops.ddim_step(ops.ddim_step(z, eps, g1, g2, backend=b), eps, g2, g3, backend=b)
        exact, scale = _exact(z, eps, g1, g3)
        a3 = torch.sigmoid(g3.double()).sqrt()
        a2 = torch.sigmoid(g2.double()).sqrt()
        # the intermediate rounding is scaled by α3/α2
        bound = 2 * TOL_ULPS * U32 * (scale + (a3 / a2) * _exact(z, eps, g1, g2)[1])
        assert bool(((two.double() - exact).abs() <= bound).all()), b


def test_ddim_gammas_reach_t0():
    gamma = torch.tensor([[[[-3.0, 5.0]]]])
    steps = ops.ddim_gammas(gamma, 4)
    assert len(steps) == 4 and torch.equal(steps[0][0], schedule.gamma_of_t(schedule.t_of_gamma(gamma)))
    for (_, g_to), (g_from, _) in zip(steps, steps[1:]):
        assert torch.equal(g_to, g_from)
    torch.testing.assert_close(steps[-1][1], torch.full_like(gamma, schedule.GAMMA_MAX))
    with pytest.raises(ValueError):
        ops.ddim_gammas(gamma, -1)


@pytest.mark.parametrize("backend", ["torch", "cpu", "triton"])
def test_bad_inputs_raise_clearly(backend):
    if backend not in _backends_here():
        pytest.skip(ops.ddim_step.reasons("cpu")[backend])
    z, eps, gf, gt = _inputs((1, 2, 4, 4), seed=1)
    call = lambda *a, **k: ops.ddim_step(*a, backend=backend, **k)  # noqa: E731
    with pytest.raises(TypeError, match="z must have dtype"):
        call(z.double(), eps, gf, gt)
    with pytest.raises(TypeError, match="gamma_to must have dtype"):
        call(z, eps, gf, gt.half())
    with pytest.raises(TypeError):
        call(z.numpy(), eps, gf, gt)
    with pytest.raises(ValueError, match="eps has shape"):
        call(z, eps[..., :3], gf, gt)
    with pytest.raises(ValueError, match="gamma_from must be"):
        call(z, eps, torch.zeros(1, 3, 4, 4) + 1, gt)
    with pytest.raises(ValueError, match="gamma_to must be"):
        call(z, eps, gf, gt[:, :, :2])
    with pytest.raises(ValueError, match="z must be"):
        call(z[0], eps[0], gf, gt)
    with pytest.raises(ValueError, match="on meta"):
        call(z, eps.to("meta"), gf, gt)
    for bad in (torch.empty(1, 2, 4, 4, dtype=torch.float64), torch.empty(1, 2, 4, 5),
                torch.empty(1, 2, 4, 4).transpose(2, 3)):
        with pytest.raises(ValueError, match="out must be"):
            call(z, eps, gf, gt, out=bad)


def test_default_dispatch_is_the_cpp_backend_when_built():
    z, eps, gf, gt = _inputs((1, 2, 3, 3), seed=2)
    ops.ddim_step(z, eps, gf, gt)
    assert ops.ddim_step.last_backend == ("cpu" if not ops.ddim_step.reasons("cpu")["cpu"] else "torch")
