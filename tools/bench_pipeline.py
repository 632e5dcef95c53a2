"""Encode / decode frames per second of the whole pipeline, stage by stage, and where the bits go.

    python tools/bench_pipeline.py                  # = rac-video bench pipeline (BasketballPass 416x240 +
                                                    # DAVIS 854x480), writes benchmarks/pipeline-<host>.json

Thin wrapper over ``rac_video.bench.pipeline`` (its docstring describes the measurement).
"""
from rac_video.bench.pipeline import main

if __name__ == "__main__":
    raise SystemExit(main())
