"""Universal quantize / dequantize: every backend against the torch reference and float64."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backends import cases
from rac_video import ops, schedule

SHAPES = [(1, 1, 1, 1), (2, 3, 17, 29), (1, 16, 9, 65), (0, 4, 5, 5), (2, 3, 0, 4)]


def _inputs(shape, level_channels, seed=0, scale=3.0):
    g = torch.Generator().manual_seed(seed)
    N, C, H, W = shape
    y = torch.randn(shape, generator=g) * scale + 0.25            # never all zeros
    lc = 1 if level_channels == 1 else C
    level = torch.randint(0, 16, (N, lc, H, W), generator=g, dtype=torch.int32)
    return y, level, schedule.level_table(7).delta


@pytest.mark.parametrize("backend,device", cases(ops.quantize))
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("level_channels", [1, "C"])
def test_quantize_bit_exact(backend, device, shape, level_channels):
    y, level, delta = (t.to(device) for t in _inputs(shape, level_channels))
    ref = ops.quantize_reference(y, level, delta, 123, 5)
    poison = torch.full(shape, -777, dtype=torch.int32, device=device)
    got = ops.quantize(y, level, delta, 123, 5, backend=backend, out=poison)
    assert ops.quantize.last_backend == backend and got.data_ptr() == poison.data_ptr()
    assert torch.equal(got, ref)


@pytest.mark.parametrize("backend,device", cases(ops.dequantize))
@pytest.mark.parametrize("shape", SHAPES)
def test_dequantize_close_to_float64(backend, device, shape):
    y, level, delta = (t.to(device) for t in _inputs(shape, 1, seed=3))
    k = ops.quantize_reference(y, level, delta, 9, 0)
    poison = torch.full(shape, float("nan"), device=device)
    got = ops.dequantize(k, level, delta, 9, 0, backend=backend, out=poison)
    u = ops.hashed_dither_reference(shape, 9, 0, device=device).double()
    exact = delta.double()[level.long()] * (k.double() - u)
    # one float32 subtraction and one multiply: within 2 ulp of the float64 value
    torch.testing.assert_close(got.double(), exact, rtol=2.5e-7, atol=1e-30)
    assert torch.equal(got, ops.dequantize_reference(k, level, delta, 9, 0))


def test_round_trip_error_is_bounded_by_half_a_step():
    y, level, delta = _inputs((2, 4, 32, 32), "C", seed=5)
    y_hat = ops.dequantize(ops.quantize(y, level, delta, 1), level, delta, 1)
    step = delta[level.long()]
    assert ((y_hat - y).abs() <= step / 2 * (1 + 1e-5) + 1e-6).all()


def test_quantization_error_is_uniform_and_independent_of_y():
    # universal quantization: y_hat - y ~ U(-Δ/2, Δ/2) whatever y is (this is what makes α·ŷ a diffusion sample)
    y = torch.full((1, 8, 64, 64), 0.3)
    level = torch.zeros(1, 1, 64, 64, dtype=torch.int32)
    delta = torch.tensor([0.5])
    err = (ops.dequantize(ops.quantize(y, level, delta, 77), level, delta, 77) - y) / 0.5
    assert abs(float(err.mean())) < 0.01 and abs(float(err.var()) - 1 / 12) < 0.003


@settings(max_examples=50, deadline=None)
@given(vals=st.lists(st.floats(-1e4, 1e4, width=32), min_size=1, max_size=40),
       d=st.floats(2.0**-10, 50, width=32), seed=st.integers(0, 2**32 - 1))
def test_property_half_step(vals, d, seed):
    y = torch.tensor(vals, dtype=torch.float32).view(1, 1, 1, -1)
    level = torch.zeros_like(y, dtype=torch.int32)
    delta = torch.tensor([d], dtype=torch.float32)
    k = ops.quantize(y, level, delta, seed)
    assert torch.equal(k, ops.quantize_reference(y, level, delta, seed))
    y_hat = ops.dequantize(k, level, delta, seed)
    assert ((y_hat.double() - y.double()).abs() <= d / 2 + 1e-5 * (y.double().abs() + d)).all()


def test_bad_inputs_raise_clearly():
    y, level, delta = _inputs((1, 2, 4, 4), 1)
    with pytest.raises(TypeError, match="y must have dtype"):
        ops.quantize(y.double(), level, delta, 0)
    with pytest.raises(ValueError, match="level values"):
        ops.quantize(y, level + 16, delta, 0)
    with pytest.raises(ValueError, match="level must be"):
        ops.quantize(y, level[..., :3], delta, 0)
    with pytest.raises(ValueError, match="delta_table"):
        ops.quantize(y, level, torch.tensor([[1.0]]), 0)
    with pytest.raises(ValueError, match="seed"):
        ops.quantize(y, level, delta, -1)
    with pytest.raises(TypeError):
        ops.quantize(y.numpy(), level, delta, 0)


def test_non_contiguous_input_is_accepted():
    y, level, delta = _inputs((1, 3, 8, 10), 1)
    yt = y.transpose(2, 3).contiguous().transpose(2, 3)
    assert not yt.is_contiguous()
    assert torch.equal(ops.quantize(yt, level, delta, 4), ops.quantize_reference(y, level, delta, 4))
