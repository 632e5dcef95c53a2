"""Decode time of models side by side, split into entropy decoding and reconstruction.

    python tools/bench_decode.py --models rac-tiny-v5,rac-tiny-v6 --rounds 5

Kodak 13, 17, 21 (768×512), uniform map, q 8. Rounds alternate the models (the first is warm-up), so
a busy machine slows both alike and the ratio stays meaningful. "entropy" is ``Codec.decode_levels``
(ẑ, the entropy networks, rANS: everything that decides symbols), "reconstruct" the rest
(dequantization, denoiser, posterior fusion, g_s). Also times one 64→64 3×3 convolution at 64×96 as
int8 (``ops.int_conv2d``, each SIMD level of the C++ backend) and float32 (torch / oneDNN).
Writes benchmarks/decode-time.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="rac-tiny-v5,rac-tiny-v6")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "eval" / "kodak")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "decode-time.json")
    args = p.parse_args(argv)

    import torch
    from PIL import Image

    from rac_video import _native
    from rac_video.codec import load_model

    files = {int(f.stem): f for f in args.data.rglob("*.png")}
    imgs = [np.asarray(Image.open(files[n]).convert("RGB")) for n in (13, 17, 21) if n in files]
    if not imgs:
        raise SystemExit(f"no Kodak images under {args.data}")
    models = [load_model(m) for m in args.models.split(",")]
    cases = {}
    for m in models:
        cases[m.name] = []
        for im in imgs:
            lv = np.full(m.latent_hw(*im.shape[:2]), m.levels - 1, np.uint8)
            cases[m.name].append((m.encode_frame(im, lv, 8), lv, im.shape[:2]))
    # wall and process CPU time (all threads): on a shared machine the CPU time is the steadier measure
    t = {m.name: np.zeros(4) for m in models}
    for r in range(args.rounds + 1):
        for m in models:
            for payload, lv, (H, W) in cases[m.name]:
                a, ac = time.perf_counter(), time.process_time()
                k, prm, K, masked = m.decode_levels(payload, lv, 8, height=H, width=W)
                b, bc = time.perf_counter(), time.process_time()
                m.reconstruct(k, prm, lv, 8, height=H, width=W, steps=K, masked=masked)
                c, cc = time.perf_counter(), time.process_time()
                if r:
                    t[m.name] += [b - a, c - b, bc - ac, cc - bc]
    n = args.rounds * len(imgs)
    res = {name: {"entropy_ms": 1e3 * v[0] / n, "reconstruct_ms": 1e3 * v[1] / n, "total_ms": 1e3 * (v[0] + v[1]) / n,
                  "entropy_cpu_ms": 1e3 * v[2] / n, "reconstruct_cpu_ms": 1e3 * v[3] / n,
                  "total_cpu_ms": 1e3 * (v[2] + v[3]) / n} for name, v in t.items()}
    ref = models[0].name
    for m in models[1:]:
        for key in ("total_ms", "entropy_ms", "total_cpu_ms", "entropy_cpu_ms"):
            res[m.name][key.replace("_ms", "_vs_") + ref] = res[m.name][key] / res[ref][key]

    conv = {}
    mod = _native.cpu_module()[0]
    x = torch.randint(-127, 128, (1, 64, 64, 96)).to(torch.int8)
    w = torch.randint(-127, 128, (64, 64, 3, 3)).to(torch.int8)
    b = torch.zeros(64, dtype=torch.int32)
    xf, wf = x.float(), w.float()
    levels = sorted({0, 1, 2} & set(range(mod.int_conv2d_simd_level() + 1)))
    acc = {f"int8-simd{s}": 0.0 for s in levels} | {"float32-torch": 0.0}
    for r in range(args.rounds + 1):
        for s in levels:
            out = torch.empty((1, 64, 64, 96), dtype=torch.int32)
            a = time.perf_counter()
            mod.int_conv2d(x.data_ptr(), 1, w.data_ptr(), b.data_ptr(), out.data_ptr(), 1, 64, 64, 96, 64, 3, 1, 1, 64,
                           96, 0, 0, 0, 0, s)
            if r:
                acc[f"int8-simd{s}"] += time.perf_counter() - a
        a = time.perf_counter()
        torch.nn.functional.conv2d(xf, wf, padding=1)
        if r:
            acc["float32-torch"] += time.perf_counter() - a
    conv = {k: 1e3 * v / args.rounds for k, v in acc.items()}
    from rac_video.eval.report import write_report

    write_report(args.out, "tools/bench_decode.py", argv, models[-1], threads=torch.get_num_threads(),
                 models={m.name: m.weights_hash for m in models}, images=len(imgs), rounds=args.rounds,
                 decode=res, conv_64x64_3x3_at_64x96_ms=conv,
                 note="simd levels: 0 scalar, 1 AVX2, 2 AVX-512 VNNI")
    print(json.dumps({"decode": res, "conv_ms": conv}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
