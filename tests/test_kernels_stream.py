"""The C++ kernels' streaming-store path (taken for outputs above 16 MiB) gives the same results as the normal
stores: forced on small tensors with odd, unaligned row lengths, every elementwise op against its reference."""
import pytest
import torch

from rac_video import _native, ops, schedule

cpu, why = _native.cpu_module()
pytestmark = pytest.mark.skipif(cpu is None or not hasattr(cpu, "set_stream_bytes"), reason=why or "old _C")


@pytest.fixture
def streaming():
    old = cpu.stream_bytes()
    cpu.set_stream_bytes(0)
    try:
        yield
    finally:
        cpu.set_stream_bytes(old)


@pytest.mark.parametrize("shape", [(2, 3, 5, 37), (1, 4, 3, 64), (1, 1, 1, 1)])
def test_streamed_outputs_equal_the_reference(streaming, shape):
    g = torch.Generator().manual_seed(3)
    N, C, H, W = shape
    y = torch.randn(shape, generator=g) * 4
    level = torch.randint(0, 16, (N, 1, H, W), generator=g, dtype=torch.int32)
    delta = schedule.level_table(7, 16).delta
    gamma = schedule.level_table(7, 16).gamma[level.long()]
    k = ops.quantize(y, level, delta, 9, 2, backend="cpu")
    assert torch.equal(k, ops.quantize_reference(y, level, delta, 9, 2))
    assert torch.equal(ops.dequantize(k, level, delta, 9, 2, backend="cpu"),
                       ops.dequantize_reference(k, level, delta, 9, 2))
    for bits in (False, True):
        assert torch.equal(ops.hashed_dither(shape, 9, 2, bits=bits, backend="cpu"),
                           ops.hashed_dither_reference(shape, 9, 2, bits=bits))
    close = dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ops.forward_noise(y, gamma, seed=5, backend="cpu"),
                               ops.forward_noise_reference(y, gamma, seed=5), **close)
    U = torch.rand(shape, generator=g)
    torch.testing.assert_close(ops.forward_noise(y, gamma, U, backend="cpu"),
                               ops.forward_noise_reference(y, gamma, U), **close)
    gt = torch.clamp(gamma + 1.5, max=schedule.GAMMA_MAX)
    torch.testing.assert_close(ops.ddim_step(y, y * 0.5, gamma, gt, backend="cpu"),
                               ops.ddim_step_reference(y, y * 0.5, gamma, gt), **close)
    torch.testing.assert_close(ops.gamma_embedding(gamma, 8, backend="cpu"), ops.gamma_embedding_reference(gamma, 8),
                               atol=4e-7, rtol=0)   # TOL_REFERENCE of rac_video.ops.embedding
