"""The ops as torch.library custom ops: opcheck (schema, fake kernels, dynamic shapes, autograd registration),
torch.compile without graph breaks and bit-exact against the eager ops; value checks off the hot path."""
import pytest
import torch

from rac_video import ops, schedule
from rac_video.ops import _library

SEED, FRAME = 1234, 5


def _inputs(shape=(2, 3, 4, 5), levels=16):
    g = torch.Generator().manual_seed(0)
    N, C, H, W = shape
    y = torch.randn(shape, generator=g) * 3
    level = torch.randint(0, levels, (N, 1, H, W), generator=g, dtype=torch.int32)
    delta = schedule.level_table(7, levels).delta
    gamma = schedule.level_table(7, levels).gamma[level.long()]
    return y, level, delta, gamma


def _cases():
    y, level, delta, gamma = _inputs()
    k = ops.quantize_reference(y, level, delta, SEED, FRAME)
    eps, U = torch.randn_like(y), torch.rand_like(y)
    scale = torch.rand_like(y) * 8
    return [
        ("quantize", (y, level, delta, SEED, FRAME)),
        ("dequantize", (k, level, delta, SEED, FRAME)),
        ("hashed_dither", ([2, 3, 4, 5], SEED, FRAME, torch.device("cpu"), False)),
        ("hashed_dither", ([2, 3, 4, 5], SEED, FRAME, torch.device("cpu"), True)),
        ("ddim_step", (y, eps, gamma, torch.clamp(gamma + 2.0, max=schedule.GAMMA_MAX))),
        ("forward_noise", (y, gamma, None, SEED, FRAME)),
        ("forward_noise", (y, gamma, U, None, 0)),
        ("gamma_embedding", (gamma, 8)),
        ("entropy_params", (y, scale, level, delta, SEED, FRAME, None, 16)),
        ("entropy_params", (y, scale, level, delta, SEED, FRAME, k, 1)),
    ]


@pytest.mark.parametrize("name,args", _cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_opcheck(name, args):
    op = getattr(torch.ops.rac_video, name).default
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_autograd_registration", "test_faketensor",
                                                "test_aot_dispatch_dynamic"))


def test_every_op_family_is_registered():
    assert set(_library.LIBRARY_OPS) == {"quantize", "dequantize", "hashed_dither", "ddim_step", "forward_noise",
                                         "gamma_embedding", "entropy_params"}
    for name, fn in _library.LIBRARY_OPS.items():
        assert getattr(ops, name).library_call is not None and hasattr(torch.ops.rac_video, name), name


def test_compiled_codec_ops_match_eager_without_graph_breaks():
    y, level, delta, gamma = _inputs()

    def step(y, level, delta, gamma):
        k = ops.quantize(y, level, delta, SEED, FRAME)
        y_hat = ops.dequantize(k, level, delta, SEED, FRAME)
        z = ops.forward_noise(y_hat, gamma, seed=SEED + 1, dither_frame=FRAME)
        emb = ops.gamma_embedding(gamma, 8)
        off, idx, _ = ops.entropy_params(y_hat, y.abs() + 0.5, level, delta, SEED, FRAME, mean_buckets=16)
        return k, z * 2 + 1, emb, off, idx

    eager = step(y, level, delta, gamma)
    torch._dynamo.reset()
    compiled = torch.compile(step, backend="eager", fullgraph=True)   # fullgraph: a graph break raises
    got = compiled(y, level, delta, gamma)
    for a, b in zip(got, eager):
        assert torch.equal(a, b)


def test_forced_backend_is_baked_into_the_trace():
    y, level, delta, _ = _inputs()
    torch._dynamo.reset()
    with ops.use_backend(quantize="torch"):
        got = torch.compile(lambda y: ops.quantize(y, level, delta, SEED, FRAME), backend="eager", fullgraph=True)(y)
    assert torch.equal(got, ops.quantize_reference(y, level, delta, SEED, FRAME))
    assert ops.quantize.last_backend == "torch"


def test_value_checks_run_once_per_table_and_in_debug_mode(monkeypatch):
    monkeypatch.delenv("RAC_VIDEO_CHECK_VALUES", raising=False)
    y, level, delta, _ = _inputs()
    delta = delta.clone()
    calls = []
    real = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: calls.append(1) or real(t))
    ops.quantize(y, level, delta, SEED, backend="torch")
    ops.quantize(y, level, delta, SEED, backend="torch")
    ops.dequantize(ops.quantize(y, level, delta, SEED), level, delta, SEED)
    assert len(calls) == 1                     # the table was read once
    delta.mul_(1.0)                            # an in-place change bumps the version: checked again
    ops.quantize(y, level, delta, SEED)
    assert len(calls) == 2
    with ops.debug_checks():
        assert ops.values_checked()
        ops.quantize(y, level, delta, SEED)
        assert len(calls) == 3


def test_bad_levels_never_read_out_of_bounds():
    """Without debug checks the C++ kernel clamps and raises; the debug mode raises before any kernel."""
    y, level, delta, _ = _inputs()
    bad = level.clone()
    bad[0, 0, 0, 0] = -3
    bad[-1, 0, -1, -1] = 10**6
    for backend in [b for b in ("cpu",) if not ops.quantize.reasons("cpu")[b]]:
        for op, x in ((ops.quantize, y), (ops.dequantize, torch.zeros_like(y, dtype=torch.int32))):
            with pytest.raises(ValueError, match=r"level values must be in 0\.\.15 \(2 were not"):
                op(x, bad, delta, SEED, backend=backend)
        with pytest.raises(ValueError, match="level values"):
            ops.entropy_params(y, y.abs(), bad, delta, SEED, backend=backend)
    with ops.debug_checks(), pytest.raises(ValueError, match=r"level values must be in 0\.\.15, got -3\.\.1000000"):
        ops.quantize(y, bad, delta, SEED)
    bad_delta = delta.clone()
    bad_delta[3] = float("nan")
    with pytest.raises(ValueError, match="finite and positive"):
        ops.quantize(y, level, bad_delta, SEED)


def test_inference_mode_tables_are_checked_every_call():
    y, level, delta, _ = _inputs()
    with torch.inference_mode():
        d = delta.clone()
        assert torch.equal(ops.quantize(y, level, d, SEED), ops.quantize_reference(y, level, delta, SEED))
        d[2] = -1.0
        with pytest.raises(ValueError, match="finite and positive"):
            ops.quantize(y, level, d, SEED)
