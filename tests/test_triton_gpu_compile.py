"""Every Triton kernel of rac_video compiles for a GPU (sm_90 PTX) on a machine without one.

The interpreter (TRITON_INTERPRET=1, used by the other tests on CPU) accepts code that the GPU
compiler rejects, so compile the real thing in a subprocess without the interpreter. Each kernel
is compiled twice: with its integer scalars as runtime arguments, and with every integer scalar
that can be 1 (seed, frame, sizes) specialised into the constexpr 1, as Triton does at launch
time when an int argument equals 1 (``seed=1`` broke ``entropy_params`` on a GPU: the jit code
called ``.to()`` on what had become a Python int). Also checks that no approximate
exp/sin/sqrt slipped into the kernels whose results must match the C++ backend (the accuracy
tests run on the interpreter's numpy); the entropy model's ``bits`` is an estimate with a stated
tolerance and may use them.

Supported Triton: 3.6 (the GPU machines) up to the one CI installs; ``.ci/run`` runs this test with
both (RAC_VIDEO_TRITON_MIN_TEST=0 skips the extra venv).
"""
import os
import subprocess
import sys

import pytest

SCRIPT = r'''
import re, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from rac_video.kernels import ddim, dither, embedding, entropy_params, noise, quantize

tgt = GPUTarget("cuda", 90, 32)
F, I, P = "*fp32", "*i32", "constexpr"
ONE = ("C", "H", "W", "HW", "LC", "GC", "GF", "GT", "HALF", "PLANE", "nb", "seed", "dither_frame")


def variants(sig, consts):
    """(signature, constexprs) as called with general ints, and with every int that may be 1 specialised."""
    yield sig, consts
    ones = {k: 1 for k, v in sig.items() if k in ONE and v in ("i32", "i64")}
    if ones:
        yield {k: (P if k in ones else v) for k, v in sig.items()}, {**consts, **ones}


EXACT = {"_ddim_step_kernel", "_gamma_embedding_kernel", "_forward_noise_kernel", "_hashed_dither_kernel",
         "_quantize_kernel", "_dequantize_kernel"}
ddim_sig = dict(z_ptr=F, eps_ptr=F, gf_ptr=F, gt_ptr=F, out_ptr=F, total="i64", C="i32", HW="i32", GF="i32", GT="i32",
                BLOCK=P)
jobs = [
    (ddim._ddim_step_kernel, ddim_sig, dict(BLOCK=1024)),
    (embedding._gamma_embedding_kernel, dict(g_ptr=F, f_ptr=F, out_ptr=F, total="i64", HALF="i32", PLANE="i32",
                                             gamma_max="fp32", gamma_span="fp32", BLOCK=P), dict(BLOCK=1024)),
]
for hashed in (True, False):
    jobs.append((noise._forward_noise_kernel, dict(y_ptr=F, g_ptr=F, u_ptr=F, out_ptr=F, total="i64", C="i32",
                                                   H="i32", W="i32", GC="i32", seed="i64", dither_frame="i32",
                                                   HASHED=P, BLOCK=P), dict(BLOCK=1024, HASHED=hashed)))
for bits in (True, False):
    jobs.append((dither._hashed_dither_kernel, dict(out_ptr=I if bits else F, total="i64", C="i32", H="i32", W="i32",
                                                    seed="i32", dither_frame="i32", BITS=P, BLOCK=P),
                 dict(BLOCK=1024, BITS=bits)))
q_sig = dict(total="i64", C="i32", H="i32", W="i32", LC="i32", seed="i64", dither_frame="i32", BLOCK=P)
jobs.append((quantize._quantize_kernel, dict(y_ptr=F, level_ptr=I, delta_ptr=F, levels="i32", k_ptr=I, **q_sig), dict(BLOCK=1024)))
jobs.append((quantize._dequantize_kernel, dict(k_ptr=I, level_ptr=I, delta_ptr=F, levels="i32", y_ptr=F, **q_sig), dict(BLOCK=1024)))
for has_bits in (True, False):
    jobs.append((entropy_params._entropy_params_kernel,
                 dict(mu_ptr=F, scale_ptr=F, level_ptr=I, delta_ptr=F, levels="i32", bounds_ptr=F, nb="i32", k_ptr=I, off_ptr=I,
                      idx_ptr=I, bits_ptr=F, total="i64", C="i32", H="i32", W="i32", LC="i32", seed="i32",
                      dither_frame="i32", scale_min="fp32", floor_p="fp32", BUCKETS=P, TOP=P, LOG=P, HAS_BITS=P,
                      SERIES=P, BLOCK=P),
                 dict(BUCKETS=4, TOP=32, LOG=6, HAS_BITS=has_bits, SERIES=8.0, BLOCK=1024)))
n = 0
for fn, sig, consts in jobs:
    for s, c in variants(sig, consts):
        try:
            ptx = triton.compile(ASTSource(fn=fn, signature=s, constexprs=c), target=tgt).asm["ptx"]
        except Exception as exc:
            sys.exit(f"{fn.__name__} with {sorted(k for k, v in s.items() if v == P)} as constexprs: "
                     f"{type(exc).__name__}: {exc}")
        bad = sorted(set(re.findall(r"(?:ex2|sin|cos|sqrt|rsqrt|lg2)\.approx[a-z0-9.]*", ptx)))
        if bad and fn.__name__ in EXACT:
            sys.exit(f"{fn.__name__}: approximate instructions {bad}")
        n += 1
print("triton", triton.__version__, "compiled", n)
'''

EXPECTED = 20  # 10 kernel configurations x (general ints, ints specialised to 1)


def test_triton_kernels_compile_for_sm90():
    try:
        from triton.backends.compiler import GPUTarget  # noqa: F401
        from triton.compiler import ASTSource  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"this Triton has no offline compile API ({exc})")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env.setdefault("TRITON_DEFAULT_FP_FUSION", "1")
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    if r.returncode != 0 and ("ptxas" in r.stderr and "not found" in r.stderr.lower()):
        pytest.skip("Triton's ptxas is not available here")
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"compiled {EXPECTED}" in r.stdout, r.stdout
