"""Per-pixel γ embedding: every backend against the torch reference and float64.

Tolerances (stated in rac_video/ops/embedding.py): every backend, the reference included, vs
float64 sin/cos of the exactly rounded float32 angle ≤ TOL_F64 = 2.5e-7; backends vs the torch
reference on the same device ≤ TOL_REFERENCE = 4e-7; vs the float64 formula ≤ TOL_FORMULA = 1.3e-4
(the float32 rounding of angles up to 1000). The float32 angle itself is the same number on every
device: built here on the CPU from float64 arithmetic rounded to float32 after each operation, which
is what one IEEE float32 operation gives.
"""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backends import cases
from rac_video import ops, schedule
from rac_video.codec.denoiser import gamma_embedding as denoiser_embedding
from rac_video.ops.embedding import TOL_F64, TOL_FORMULA, TOL_REFERENCE

SHAPES = [(1, 1, 1, 1), (2, 1, 17, 29), (1, 1, 9, 65), (0, 1, 5, 5), (2, 1, 0, 4)]


def _gamma(shape, seed=0, lo=-12.0, hi=16.0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * (hi - lo) + lo).to(device)   # beyond [GAMMA_MIN, GAMMA_MAX]: clamps


def _f32(x):
    """Round a float64 tensor to float32 and back: one correctly rounded float32 operation."""
    return x.float().double()


def _time32(gamma):
    """t = clamp(fl(fl(γ − GAMMA_MAX) / (GAMMA_MIN − GAMMA_MAX)), 0, 1), IEEE float32, computed on the CPU."""
    g = gamma.detach().cpu().double()
    return _f32(_f32(g - schedule.GAMMA_MAX) / (schedule.GAMMA_MIN - schedule.GAMMA_MAX)).clamp(0, 1)


def _angle32(gamma, dim):
    """The float32 angle fl(fl(1000·t)·freq_i) every backend must use, as float64 on the CPU."""
    freq = ops.embedding_frequencies(dim).double().view(1, dim // 2, 1, 1)
    return _f32(_f32(1000.0 * _time32(gamma)) * freq)


def _float64_formula(gamma, dim):
    t64 = ((gamma.detach().cpu().double() - schedule.GAMMA_MAX) / (schedule.GAMMA_MIN - schedule.GAMMA_MAX)).clamp(0, 1)
    f64 = torch.exp(torch.arange(dim // 2, dtype=torch.float64) * (-math.log(1000.0) / (dim // 2 - 1)))
    a64 = 1000.0 * t64 * f64.view(1, -1, 1, 1)
    return torch.cat([a64.sin(), a64.cos()], 1)


def _all_cases():
    # the torch reference on every device present, then every other backend
    devs = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return [pytest.param("torch", d, id=f"torch-{d}") for d in devs] + cases(ops.gamma_embedding)


@pytest.mark.parametrize("backend,device", _all_cases())
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dim", [32, 4, 10])
def test_backend_matches_reference_and_float64(backend, device, shape, dim):
    gamma = _gamma(shape, seed=sum(shape) + dim, device=device)
    poison = torch.full((shape[0], dim, *shape[2:]), float("nan"), device=device)
    got = ops.gamma_embedding(gamma, dim, backend=backend, out=poison)
    assert ops.gamma_embedding.last_backend == backend and got.data_ptr() == poison.data_ptr()
    # the angle is the exactly rounded float32 one on this device too
    assert torch.equal(ops.embedding_angle(gamma, dim).cpu().double(), _angle32(gamma, dim))
    ref = ops.gamma_embedding_reference(gamma, dim)
    assert bool(((got - ref).abs() <= TOL_REFERENCE).all())
    got = got.cpu().double()
    ang = _angle32(gamma, dim)
    err = (got - torch.cat([ang.sin(), ang.cos()], dim=1)).abs()
    assert bool((err <= TOL_F64).all()), float(err.max())
    assert bool(((got - _float64_formula(gamma, dim)).abs() <= TOL_FORMULA).all())


def test_inputs_catch_a_reciprocal_multiply():
    """The shapes above include γ whose t a reciprocal multiply (torch's CUDA ``x / python_number``) rounds
    differently: the angle check above would see it."""
    g = torch.cat([_gamma(s, seed=sum(s) + 32).flatten() for s in SHAPES[:3]])
    recip = (g - schedule.GAMMA_MAX) * torch.tensor(1.0 / (schedule.GAMMA_MIN - schedule.GAMMA_MAX))
    ieee = (g - schedule.GAMMA_MAX) / torch.tensor(schedule.GAMMA_MIN - schedule.GAMMA_MAX)
    assert torch.equal(ieee.double(), _f32(_f32(g.double() - schedule.GAMMA_MAX) / (schedule.GAMMA_MIN - schedule.GAMMA_MAX)))
    assert int((recip != ieee).sum()) >= 10


@settings(max_examples=40, deadline=None)
@given(vals=st.lists(st.floats(-40, 40, width=32), min_size=1, max_size=30))
def test_property_unit_circle_and_reference(vals):
    gamma = torch.tensor(vals, dtype=torch.float32).view(1, 1, 1, -1)
    for b in [b for b, why in ops.gamma_embedding.reasons("cpu").items() if not why]:
        e = ops.gamma_embedding(gamma, backend=b)
        s, c = e[:, :16], e[:, 16:]
        assert bool(((s * s + c * c - 1).abs() <= 1e-6).all())
        assert float((e - ops.gamma_embedding_reference(gamma)).abs().max()) <= 4e-7
        # t = 0 for γ ≥ GAMMA_MAX: angle 0 → sin 0, cos 1 exactly
        clean = gamma >= schedule.GAMMA_MAX
        assert bool((s.masked_select(clean) == 0).all()) and bool((c.masked_select(clean) == 1).all())


@pytest.mark.parametrize("backend,device", cases(ops.gamma_embedding))
def test_non_contiguous_input(backend, device):
    gamma = _gamma((2, 1, 6, 7), seed=3, device=device)
    nc = gamma.transpose(2, 3).contiguous().transpose(2, 3)
    assert not nc.is_contiguous()
    assert torch.equal(ops.gamma_embedding(nc, backend=backend), ops.gamma_embedding(gamma, backend=backend))


def test_denoiser_uses_the_op_and_keeps_its_numerics():
    gamma = _gamma((2, 1, 9, 13), seed=5)
    fused = denoiser_embedding(gamma)
    assert ops.gamma_embedding.last_backend == ops.gamma_embedding.select("cpu")
    from rac_video.ops.embedding import embedding_torch
    assert float((fused - embedding_torch(gamma, 32)).abs().max()) <= 4e-7
    # gradients and other dtypes take the torch formula
    g = gamma.clone().requires_grad_()
    denoiser_embedding(g).sum().backward()
    assert g.grad is not None and torch.isfinite(g.grad).all()
    assert denoiser_embedding(gamma.double()).dtype == torch.float64


@pytest.mark.parametrize("backend", ["torch", "cpu", "triton"])
def test_bad_inputs_raise_clearly(backend):
    if ops.gamma_embedding.reasons("cpu")[backend]:
        pytest.skip(ops.gamma_embedding.reasons("cpu")[backend])
    gamma = _gamma((1, 1, 4, 4))
    call = lambda *a, **k: ops.gamma_embedding(*a, backend=backend, **k)  # noqa: E731
    with pytest.raises(TypeError, match="gamma must have dtype"):
        call(gamma.double())
    with pytest.raises(TypeError):
        call(gamma.numpy())
    with pytest.raises(ValueError, match="gamma must be"):
        call(gamma.expand(1, 2, 4, 4))
    with pytest.raises(ValueError, match="gamma must be"):
        call(gamma[0])
    for dim in (3, 2, 0, 7.0, True):
        with pytest.raises(ValueError, match="dim"):
            call(gamma, dim)
    for bad in (torch.empty(1, 32, 4, 4, dtype=torch.float64), torch.empty(1, 16, 4, 4),
                torch.empty(1, 32, 4, 4).transpose(2, 3), torch.empty(1, 32, 4, 4, device="meta")):
        with pytest.raises(ValueError, match="out must be"):
            call(gamma, out=bad)
