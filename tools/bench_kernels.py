#!/usr/bin/env python
"""Kernel throughput benchmark: the same as ``rac-video bench kernels`` (see rac_video/bench/kernels.py).

    python tools/bench_kernels.py [--repeats 5] [--threads N] [--sizes 1x16x68x120,...] [--out FILE]
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from rac_video.bench.kernels import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
