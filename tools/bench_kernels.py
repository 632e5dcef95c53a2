#!/usr/bin/env python
"""Kernel throughput benchmark: the same as ``rac-video bench kernels`` (see rac_video/bench/kernels.py).

    python tools/bench_kernels.py [--repeats 5] [--threads N] [--sizes 1x16x68x120,...] [--out FILE]
"""


from rac_video.bench.kernels import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
