"""ops.int_conv2d: every backend bit-exact against the reference, the reference exact against int64."""
import os
import subprocess
import sys

import pytest
import torch

from backends import cases
from rac_video import _native, ops
from rac_video.ops.int_conv import epilogue_reference

# (N, I, H, W, O, k, stride, padding, dtype)
GEOMS = [(1, 5, 6, 7, 20, 3, 1, 1, torch.int8), (2, 3, 7, 9, 5, 3, 2, 1, torch.int16),
         (1, 4, 5, 5, 3, 5, 1, 2, torch.int8), (1, 2, 1, 1, 4, 1, 1, 0, torch.int8), (0, 3, 4, 4, 2, 3, 1, 1, torch.int8),
         (1, 17, 4, 33, 6, 3, 2, 0, torch.int16)]


def _inputs(geom, seed=0, full=False):
    N, I, H, W, O, k, s, p, dt = geom
    g = torch.Generator().manual_seed(seed)
    hi = 2047 if dt == torch.int16 else 127
    x = torch.randint(-hi, hi + 1, (N, I, H, W), generator=g).to(dt)
    w = torch.randint(-127, 128, (O, I, k, k), generator=g).to(torch.int8)
    if full:                                   # every product at its largest: the sums' worst case
        x, w = torch.full_like(x, -hi if dt == torch.int8 else hi), torch.full_like(w, -127)
    b = torch.randint(-2**20, 2**20, (O,), generator=g).to(torch.int32)
    m = torch.randint(1, 2**26, (O,), generator=g).to(torch.int64)
    lut = torch.randint(-127, 128, (64,), generator=g).to(torch.int8)
    return x, w, b, s, p, m, lut


def _direct(x, w, b, s, p):
    """The definition, term by term in int64."""
    N, I, H, W = x.shape
    O, _, k, _ = w.shape
    xp = torch.nn.functional.pad(x.to(torch.int64), (p, p, p, p))
    Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    out = b.to(torch.int64).view(1, O, 1, 1).repeat(N, 1, Ho, Wo)
    for a in range(k):
        for c in range(k):
            patch = xp[:, :, a:a + s * (Ho - 1) + 1:s, c:c + s * (Wo - 1) + 1:s]
            out += torch.einsum("nihw,oi->nohw", patch, w[:, :, a, c].to(torch.int64))
    return out


@pytest.mark.parametrize("geom", GEOMS, ids=str)
@pytest.mark.parametrize("full", [False, True])
def test_reference_is_exact(geom, full):
    x, w, b, s, p, _, _ = _inputs(geom, full=full)
    got = ops.int_conv2d_reference(x, w, b, s, p)
    assert got.dtype == torch.int32
    assert torch.equal(got.to(torch.int64), _direct(x, w, b, s, p))


@pytest.mark.parametrize("backend,device", cases(ops.int_conv2d))
@pytest.mark.parametrize("geom", GEOMS, ids=str)
@pytest.mark.parametrize("epilogue", ["sum", "requant", "lut"])
def test_backends_bit_exact(backend, device, geom, epilogue):
    x, w, b, s, p, m, lut = (t.to(device) if isinstance(t, torch.Tensor) else t for t in _inputs(geom, seed=3))
    kw = {"sum": {}, "requant": dict(mult=m, shift=24), "lut": dict(mult=m, shift=30, lut=lut)}[epilogue]
    want = ops.int_conv2d_reference(x, w, b, s, p, **kw)
    got = ops.int_conv2d(x, w, b, s, p, backend=backend, **kw)
    assert ops.int_conv2d.last_backend == backend
    assert got.dtype == want.dtype == (torch.int8 if epilogue == "lut" else torch.int32)
    assert torch.equal(got.cpu(), want.cpu())


def test_epilogue_rounds_and_saturates():
    acc = torch.tensor([[-3, -2, -1, 0, 1, 2, 3, 2**31 - 1]], dtype=torch.int32).view(1, 1, 1, -1)
    one = torch.ones(1, dtype=torch.int64)
    assert epilogue_reference(acc, one * 1, 1, None).view(-1).tolist()[:7] == [-1, -1, 0, 0, 1, 1, 2]  # ⌊x/2 + ½⌋
    big = epilogue_reference(acc, one * 2**20, 1, None)        # |acc·mult| < 2^63, the result beyond int32
    assert big.view(-1)[-1].item() == 2**31 - 1 and big.view(-1)[0].item() == -3 * 2**19
    lut = torch.arange(-2, 2, dtype=torch.int8)                        # P = 2: indexes clamp to [−2, 1]
    assert epilogue_reference(acc, one, 1, lut).view(-1).tolist() == [-1, -1, 0, 0, 1, 1, 1, 1]


@pytest.mark.skipif(_native.cpu_module()[0] is None, reason="C++ module not built")
def test_cpu_simd_paths_agree():
    mod = _native.cpu_module()[0]
    x, w, b, s, p, m, lut = _inputs((2, 21, 9, 13, 11, 3, 1, 1, torch.int8), seed=5)
    want = ops.int_conv2d_reference(x, w, b, 1, 1)
    # 0 scalar, 1 AVX2, 2 AVX-512 VNNI (a level the CPU lacks falls back to the best it has)
    for simd in (0, 1, 2):
        out = torch.empty((2, 11, 9, 13), dtype=torch.int32)
        mod.int_conv2d(x.data_ptr(), 1, w.data_ptr(), b.data_ptr(), out.data_ptr(), 2, 21, 9, 13, 11, 3, 1, 1, 9, 13,
                       0, 0, 0, 0, simd)
        assert torch.equal(out, want), simd


def test_bad_arguments_are_clear_errors():
    x, w, b, s, p, m, lut = _inputs(GEOMS[0])
    with pytest.raises(ValueError, match="int8/int16"):
        ops.int_conv2d(x.float(), w, b)
    with pytest.raises(ValueError, match="weight must be"):
        ops.int_conv2d(x, w[:, :2], b)
    with pytest.raises(ValueError, match="bias"):
        ops.int_conv2d(x, w, b[:1])
    with pytest.raises(ValueError, match="smaller than the kernel"):
        ops.int_conv2d(x[..., :2, :2], w, b, 1, 0)
    with pytest.raises(ValueError, match="multipliers"):
        ops.int_conv2d(x, w, b, lut=lut)
    with pytest.raises(ValueError, match="shift"):
        ops.int_conv2d(x, w, b, mult=m, shift=0)
    with pytest.raises(ValueError, match="even length"):
        ops.int_conv2d(x, w, b, mult=m, lut=lut[:3])


SCRIPT = r'''
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from rac_video.kernels import int_conv
sig = dict(x_ptr="*i8", w_ptr="*i8", b_ptr="*i32", mult_ptr="*i64", lut_ptr="*i8", out_ptr="*i8", I="i32", H="i32",
           W="i32", O="i32", Ho="i32", Wo="i32", stride="i32", pad="i32", shift="i32", P="i32", K="constexpr",
           MODE="constexpr", BO="constexpr", BP="constexpr")
for mode in (0, 1, 2):
    s = dict(sig, out_ptr="*i8" if mode == 2 else "*i32")
    triton.compile(ASTSource(fn=int_conv._int_conv_kernel, signature=s, constexprs=dict(K=3, MODE=mode, BO=16, BP=64)),
                   target=GPUTarget("cuda", 90, 32))
print("compiled 3")
'''


def test_triton_int_conv_compiles_for_sm90():
    try:
        from triton.backends.compiler import GPUTarget  # noqa: F401
        from triton.compiler import ASTSource  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"this Triton has no offline compile API ({exc})")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0 and ("ptxas" in r.stderr and "not found" in r.stderr.lower()):
        pytest.skip("Triton's ptxas is not available here")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "compiled 3" in r.stdout
