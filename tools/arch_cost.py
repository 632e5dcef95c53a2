"""Parameters, float16 weight bytes and decoder-side forward time of each architecture (untrained weights).

    OMP_NUM_THREADS=1 python tools/arch_cost.py --size 512x768 --rounds 3

Per architecture in ``rac_video.codec.weights.ARCHITECTURES``: parameters per module and in total, the
bytes of the weights in format 2 (float16), and the median wall time of g_s plus one denoiser step on a
latent of an HxW frame (what decoding costs beyond entropy decoding, per DDIM step), with its ratio to
rac-tiny's measured in the same rounds (interleaved, so a busy machine slows both alike).
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="512x768", help="HxW of the frame")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    try:
        H, W = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size wants HxW, got {args.size!r}", file=sys.stderr)
        return 2
    import torch

    from rac_video.codec.weights import ARCHITECTURES, build_module

    keys = ("g_a", "g_s", "denoiser", "hyperprior", "context")      # a model without a realism g_s
    mods = {n: {k: build_module(k, a) for k in keys} for n, a in ARCHITECTURES.items()}
    times = {n: [] for n in ARCHITECTURES}
    with torch.no_grad():
        for _ in range(args.rounds + 1):
            for n, a in ARCHITECTURES.items():
                y = torch.randn(1, a.latent_channels, -(-H // a.factor), -(-W // a.factor))
                g = torch.zeros(1, 1, *y.shape[-2:])
                t = time.perf_counter()
                mods[n]["g_s"](mods[n]["denoiser"](y, g))
                times[n].append(time.perf_counter() - t)
    base = sorted(times["rac-tiny"][1:])[args.rounds // 2]
    for n, a in ARCHITECTURES.items():
        params = {k: sum(p.numel() for p in m.parameters()) for k, m in mods[n].items()}
        med = sorted(times[n][1:])[args.rounds // 2]
        print(json.dumps({"arch": n, "factor": a.factor, "latent_channels": a.latent_channels,
                          "parameters": params, "total_parameters": sum(params.values()),
                          "float16_bytes": 2 * sum(params.values()), "size": [H, W],
                          "g_s_plus_one_step_s": round(med, 4), "ratio_to_rac_tiny": round(med / base, 2),
                          "threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
