#!/usr/bin/env python
"""Fuzz the native entropy code under AddressSanitizer + UBSan.

Copies the source tree into a temporary directory, builds ``rac_video._C`` there with
``RAC_VIDEO_SANITIZE=1`` (setup.py: -fsanitize=address,undefined, CUDA off), and runs, with
the ASan runtime preloaded into Python and UBSan halting on the first report,

* tests/test_rans_fuzz.py  (hypothesis: random bytes, truncations, bit flips, splices, wrong
  tables and indexes, absurd headers, valid round trips; ``--examples`` per test),
* tests/test_rans.py and the C++ cases of tests/test_entropy_params.py and tests/test_int_conv.py (every
  SIMD path of the integer convolution, edge geometries, worst-case sums).

Any out-of-bounds access, use after free or undefined behaviour aborts the run (non-zero exit).
Prints, and with ``--out`` writes, a JSON summary: the case counts, the outcome and the machine.

    python tools/fuzz_rans.py [--examples 2000] [--out benchmarks/fuzz-rans-HOST.json] [--keep]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COPY = ["setup.py", "pyproject.toml", "README.md", "csrc", "kernels", "rac_video", "tests"]
SKIP = shutil.ignore_patterns("__pycache__", "*.so", "_build_status.json", "*.egg-info", ".hypothesis")


def _runtime(name: str) -> str:
    path = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        raise SystemExit(f"fuzz_rans: {name} not found (install gcc's sanitizer runtimes, e.g. libasan8)")
    return path


def _preload() -> str:
    # the ASan runtime first; libstdc++ too, or ASan cannot intercept __cxa_throw (python itself
    # does not link libstdc++) and the first C++ exception aborts
    return _runtime("libasan.so") + " " + _runtime("libstdc++.so.6")


def build(tmp: str) -> float:
    for item in COPY:
        src, dst = os.path.join(ROOT, item), os.path.join(tmp, item)
        if os.path.isdir(src):
            shutil.copytree(src, dst, ignore=SKIP)
        elif os.path.exists(src):
            shutil.copy2(src, dst)
    env = dict(os.environ, RAC_VIDEO_SANITIZE="1", RAC_VIDEO_CUDA="0")
    t0 = time.time()
    proc = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit("fuzz_rans: the sanitizer build failed")
    return time.time() - t0


def run_tests(tmp: str, examples: int, report: str) -> tuple[int, str, float]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=tmp + os.pathsep + env.get("PYTHONPATH", ""),
        LD_PRELOAD=_preload(),
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:check_initialization_order=1",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
        OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "2"),
        RAC_VIDEO_FUZZ_EXAMPLES=str(examples),
        RAC_VIDEO_FUZZ_REPORT=report,
        RAC_VIDEO_BACKEND_ENTROPY_PARAMS="cpu",
    )
    for var in ("RAC_VIDEO_SANITIZE_TESTS", "RAC_VIDEO_SLOW_TESTS"):  # (the opt-in test that calls this script)
        env.pop(var, None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_rans_fuzz.py",
           "tests/test_rans.py", "tests/test_entropy_params.py", "tests/test_int_conv.py", "-k", "not triton and not cuda"]
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
    return proc.returncode, (proc.stdout + proc.stderr)[-6000:], time.time() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=2000, help="hypothesis examples per fuzz test")
    ap.add_argument("--out", help="write the JSON summary here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary build directory")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="rac_fuzz_")
    try:
        build_s = build(tmp)
        # sanity: the module that will be imported is the sanitized one
        probe = subprocess.run([sys.executable, "-c", "import rac_video._C as m; print(m.__file__)"],
                               cwd=tmp, env=dict(os.environ, PYTHONPATH=tmp, LD_PRELOAD=_preload(),
                                                 ASAN_OPTIONS="detect_leaks=0"),
                               capture_output=True, text=True)
        module = probe.stdout.strip()
        if not module.startswith(tmp):
            raise SystemExit(f"fuzz_rans: the sanitized module is not the one imported ({module or probe.stderr})")
        report = os.path.join(tmp, "fuzz-counts.json")
        rc, log, run_s = run_tests(tmp, args.examples, report)
        counts = json.load(open(report)) if os.path.exists(report) else {}
        from rac_video.eval.report import benchmark_record, machine_record, write_record

        gcc = subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        summary = benchmark_record("tools/fuzz_rans.py", argv, None, machine=machine_record(gcc=gcc), **{
            "what": "rANS decoder fuzz + entropy_params and int_conv2d C++ tests under AddressSanitizer/UBSan (tools/fuzz_rans.py)",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "sanitizers": "-fsanitize=address,undefined (ASAN_OPTIONS abort_on_error=1, UBSAN_OPTIONS halt_on_error=1)",
            "examples_per_fuzz_test": args.examples,
            "fuzz_cases": counts.get("cases", 0),
            "fuzz_counts": counts.get("counts", {}),
            "pytest_exit": rc,
            "pytest_tail": log.strip().splitlines()[-1] if log.strip() else "",
            "result": "pass" if rc == 0 else "FAIL",
            "seconds": {"build": round(build_s, 1), "run": round(run_s, 1)},
        })
        print(json.dumps(summary, indent=1))
        if rc != 0:
            sys.stderr.write(log)
        if args.out:
            write_record(args.out, summary)
        return 0 if rc == 0 else 1
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
