"""Throughput of the per-element kernels on every backend available here (docs/design.md §4).

For quantize, dequantize, hashed_dither, ddim_step, forward_noise (hashed U and given U),
gamma_embedding (D = 32, the denoiser's) and entropy_params (offset + table index, the codec's
16 mean buckets) at latent sizes (default 1×16×68×120, 1×16×135×240 and 4×16×270×480, i.e. 544×960,
1080×1920 and a batch of four 2160×3840 frames), at one or several thread counts (``--threads 1,2``),
times one call per backend (torch reference, C++, CUDA / Triton where a GPU is present) into a
preallocated ``out=``, and reports

* seconds per call (median and best of ``--repeats`` timed batches),
* achieved bytes/s = (bytes the op must read + write) / time,
* that over ``dst.copy_(src)`` of the same number of bytes (half read, half written), timed in
  batches alternating with the op's, median of the per-round ratios (``of_same_bytes_copy``: the target ratio, ≥ 70 % on a CPU, ≥ 85 % on a
  GPU, for the large sizes),
* that over the machine's measured large-copy bandwidth (``dst.copy_(src)`` of a --copy-mib
  float32 tensor, read + write counted: memory bandwidth) and over a copy of one latent-sized
  float32 tensor (the cache level the op's working set lives in; a latent of a few MiB fits the
  CPU caches, so ratios above 1 vs the large copy are expected there),
* the speed-up over the torch reference of the same run,
* max |backend − reference| (0 for the integer outputs) as a sanity check,

and writes everything with the machine description to ``benchmarks/kernels-<hostname>.json``.

    rac-video bench kernels [--repeats 5] [--threads 1,2] [--sizes 1x16x68x120,...] [--ops quantize,...]
                            [--backends cpu,cuda] [--out FILE]
    python tools/bench_kernels.py ...   (same options)

Triton on CPU tensors runs in the interpreter and is skipped unless --interpreter is given.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import socket
import sys
import time

import torch

DEFAULT_SIZES = "1x16x68x120,1x16x135x240,4x16x270x480"
LEVELS, Q, SEED, FRAME = 16, 7, 1234, 5


def _parse_size(s: str) -> tuple[int, int, int, int]:
    dims = tuple(int(v) for v in s.lower().split("x"))
    if len(dims) != 4 or any(d <= 0 for d in dims):
        raise argparse.ArgumentTypeError(f"size must be NxCxHxW with positive ints, got {s!r}")
    return dims


def _parse_threads(s: str) -> list[int]:
    out = []
    for v in s.split(","):
        v = v.strip().lower()
        if not v:
            continue
        n = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()) if v == "all" \
            else int(v)
        if n < 1:
            raise argparse.ArgumentTypeError(f"thread counts must be >= 1, got {v!r}")
        out.append(n)
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device_names) -> dict:
    from .. import ops  # noqa: F401  (loads the native modules)
    from .. import _native

    cpu, _ = _native.cpu_module()
    info = {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_threads_C": cpu.num_threads() if cpu else None,
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    try:
        import triton

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if "cuda" in device_names:
        info["gpu"] = torch.cuda.get_device_name(0)
        cu, _ = _native.load("_C_cuda")
        info["cuda_module"] = {"archs": cu.archs, "cudart": cu.runtime_version} if cu else None
    return info


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device, repeats: int, min_time: float) -> dict:
    """Median / best seconds per call over ``repeats`` batches of n calls (n so a batch ≥ min_time)."""
    fn()  # warm-up (Triton compiles, pages fault in)
    _sync(device)
    n, t = 1, 0.0
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        _sync(device)
        t = time.perf_counter() - t0
        if t >= min_time or n >= 1 << 16:
            break
        n = max(2 * n, int(n * min_time / max(t, 1e-9)) + 1)
    per = [t / n]
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        _sync(device)
        per.append((time.perf_counter() - t0) / n)
    per.sort()
    return {"median_s": per[len(per) // 2], "best_s": per[0], "calls_per_batch": n, "batches": len(per)}


def _time_pair(fn, ref, device, repeats: int, min_time: float) -> tuple[dict, dict]:
    """Time ``fn`` and ``ref`` (the same-bytes copy) in alternating batches; the ratio ref/fn per round, median
    over the rounds, is robust against the load of a shared machine drifting during the run."""
    r_fn = _time(fn, device, 1, min_time)
    r_ref = _time(ref, device, 1, min_time)
    n_fn, n_ref = r_fn["calls_per_batch"], r_ref["calls_per_batch"]
    t_fn, t_ref, ratios = [r_fn["median_s"]], [r_ref["median_s"]], [r_ref["median_s"] / r_fn["median_s"]]
    for _ in range(repeats - 1):
        for f, n, out in ((fn, n_fn, t_fn), (ref, n_ref, t_ref)):
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            _sync(device)
            out.append((time.perf_counter() - t0) / n)
        ratios.append(t_ref[-1] / t_fn[-1])
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    return ({"median_s": med(t_fn), "best_s": min(t_fn), "calls_per_batch": n_fn, "batches": len(t_fn)},
            {"median_s": med(t_ref), "median_ratio": med(ratios)})


def copy_bandwidth(device, mib: int, repeats: int, min_time: float) -> dict:
    src = torch.rand(mib * (1 << 20) // 4, device=device)
    dst = torch.empty_like(src)
    r = _time(lambda: dst.copy_(src), device, repeats, min_time)
    nbytes = 2 * src.numel() * 4
    return {"what": f"dst.copy_(src), {mib} MiB float32, read + write counted", "bytes": nbytes,
            **r, "bytes_per_s": nbytes / r["median_s"]}


def cases(shape, device):
    """(name, op, args, kwargs, out tensor, bytes moved) for one latent shape on ``device``."""
    from .. import ops, schedule

    g = torch.Generator().manual_seed(0)
    N, C, H, W = shape
    px = N * H * W
    y = (torch.randn(shape, generator=g) * 3).to(device)
    level = torch.randint(0, LEVELS, (N, 1, H, W), generator=g, dtype=torch.int32).to(device)
    delta = schedule.level_table(Q, LEVELS).delta.to(device)
    k = ops.quantize_reference(y, level, delta, SEED, FRAME)
    gamma = schedule.level_table(Q, LEVELS).gamma.to(device)[level.long()]
    gamma_to = torch.clamp(gamma + 2.0, max=schedule.GAMMA_MAX)
    eps = torch.randn(shape, generator=g).to(device)
    U = torch.rand(shape, generator=g).to(device)
    scale = (torch.rand(shape, generator=g) * 8).to(device)
    n = y.numel()
    f32 = lambda: torch.empty(shape, device=device)  # noqa: E731
    return [
        ("quantize", ops.quantize, (y, level, delta, SEED, FRAME), {},
         torch.empty(shape, dtype=torch.int32, device=device), 4 * n + 4 * px + 4 * n),
        ("dequantize", ops.dequantize, (k, level, delta, SEED, FRAME), {}, f32(), 4 * n + 4 * px + 4 * n),
        ("hashed_dither", ops.hashed_dither, (shape, SEED, FRAME), {"device": device}, f32(), 4 * n),
        ("ddim_step", ops.ddim_step, (y, eps, gamma, gamma_to), {}, f32(), 12 * n + 8 * px),
        ("forward_noise[hashed U]", ops.forward_noise, (y, gamma), {"seed": SEED, "dither_frame": FRAME}, f32(),
         8 * n + 4 * px),
        ("forward_noise[given U]", ops.forward_noise, (y, gamma, U), {}, f32(), 12 * n + 4 * px),
        ("gamma_embedding", ops.gamma_embedding, (gamma, 32), {},
         torch.empty((N, 32, H, W), device=device), 4 * px + 4 * 32 * px),
        ("entropy_params", ops.entropy_params, (y, scale, level, delta, SEED, FRAME), {"mean_buckets": 16},
         (torch.empty(shape, dtype=torch.int32, device=device), torch.empty(shape, dtype=torch.int32, device=device),
          None), 16 * n + 4 * px),
    ]


def _diff(got, ref) -> float:
    """max |got − ref| over the op's outputs (a tensor or a tuple with None entries)."""
    if isinstance(ref, torch.Tensor):
        got, ref = (got,), (ref,)
    d = 0.0
    for a, b in zip(got, ref):
        if b is not None and b.numel():
            d = max(d, float((a.double() - b.double()).abs().max()))
    return d


def _set_threads(n: int) -> None:
    from .. import _native

    torch.set_num_threads(n)
    cpu, _ = _native.cpu_module()
    if cpu:
        cpu.set_num_threads(n)


def summarise(report: dict) -> dict:
    """Per device and thread count, at its largest latent: each op's fastest non-reference backend and its share
    of the bandwidth of a copy of the same bytes (the target: >= 70 % on a CPU, >= 85 % on a GPU) and of the
    large copy, plus every backend that failed."""
    out = {}
    keys = dict.fromkeys((r["device"], r.get("threads")) for r in report["results"])
    for dev, threads in keys:
        key = dev if threads is None or len({k[1] for k in keys if k[0] == dev}) == 1 else f"{dev}/{threads}t"
        rows = [r for r in report["results"] if r["device"] == dev and r.get("threads") == threads]
        timed = [r for r in rows if "bytes_per_s" in r and r["backend"] != "torch"]
        entry = {"threads": threads,
                 "errors": [f"{r['op']} {r['backend']} {'x'.join(map(str, r['shape']))}: {r['error']}"
                            for r in rows if "error" in r]}
        if timed:
            big = max((tuple(r["shape"]) for r in timed), key=lambda s: s[0] * s[1] * s[2] * s[3])
            best = {}
            for r in timed:
                if tuple(r["shape"]) == big and r["of_same_bytes_copy"] > best.get(r["op"], {}).get(
                        "of_same_bytes_copy", -1):
                    best[r["op"]] = {k: r[k] for k in ("backend", "bytes_per_s", "of_same_bytes_copy",
                                                       "of_copy_bandwidth", "median_s")}
            entry.update(shape=list(big), best=best,
                         min_of_same_bytes_copy=min(b["of_same_bytes_copy"] for b in best.values()),
                         min_of_copy_bandwidth=min(b["of_copy_bandwidth"] for b in best.values()))
        out[key] = entry
    return out


def summary_lines(summary: dict) -> list[str]:
    lines = []
    for dev, e in summary.items():
        if "best" in e:
            lines.append(f"[{dev}] at {'x'.join(map(str, e['shape']))}, fastest backend per op vs a copy of the same "
                         f"bytes (lowest {e['min_of_same_bytes_copy']:.1%}) and vs the large copy:")
            lines += [f"[{dev}]   {op:24s} {b['backend']:6s} {b['bytes_per_s'] / 1e9:8.2f} GB/s  "
                      f"{b['of_same_bytes_copy']:6.1%}  {b['of_copy_bandwidth']:6.1%}" for op, b in e["best"].items()]
        lines += [f"[{dev}] ERROR {err}" for err in e["errors"]]
    return lines


def _copy_of(nbytes: int, device, repeats: int, min_time: float) -> dict:
    """dst.copy_(src) moving ``nbytes`` (half read, half written)."""
    src = torch.rand(max(1, nbytes // 8), device=device)
    dst = torch.empty_like(src)
    r = _time(lambda: dst.copy_(src), device, repeats, min_time)
    return {**r, "bytes": 8 * src.numel(), "bytes_per_s": 8 * src.numel() / r["median_s"]}


def run(args) -> dict:
    from .. import ops  # noqa: F401

    devices = [torch.device(d) for d in args.devices]
    report = {
        "what": "seconds per call, achieved bytes/s (bytes the op must read + write) vs a copy of the same bytes timed "
                "next to it (of_same_bytes_copy), vs a large copy (memory bandwidth), vs a copy of one latent and vs "
                "the torch reference, per op, latent size, thread count and backend",
        "command": "rac-video bench kernels " + " ".join(args.argv),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info([d.type for d in devices]),
        "settings": {"repeats": args.repeats, "min_time_s": args.min_time, "sizes": [list(s) for s in args.sizes],
                     "threads": args.threads, "quality": Q, "levels": LEVELS, "gamma_maps": "(N,1,H,W)"},
        "copy_bandwidth": {},
        "results": [],
    }
    from .. import _native

    cpu, _ = _native.cpu_module()
    restore = (torch.get_num_threads(), cpu.num_threads() if cpu else None)
    for threads in args.threads or [None]:
        if threads:
            _set_threads(threads)
        tag = f"{threads}t" if threads else ""
        for dev in devices:
            bw = copy_bandwidth(dev, args.copy_mib, args.repeats, args.min_time)
            report["copy_bandwidth"][dev.type + (f"/{tag}" if tag else "")] = bw
            print(f"[{dev}{' ' + tag if tag else ''}] large copy: {bw['bytes_per_s'] / 1e9:.2f} GB/s", flush=True)
            for shape in args.sizes:
                small = {"shape": list(shape), "threads": threads,
                         **_copy_of(8 * math.prod(shape), dev, args.repeats, args.min_time)}
                report["copy_bandwidth"].setdefault(f"{dev.type}_latent_copies", []).append(small)
                print(f"[{dev}{' ' + tag if tag else ''}] latent-sized copy {'x'.join(map(str, shape))}: "
                      f"{small['bytes_per_s'] / 1e9:.2f} GB/s")
                same_copies: dict[int, tuple] = {}
                for name, op, a, kw, out, nbytes in cases(shape, dev):
                    if args.ops and name.split("[")[0] not in args.ops:
                        continue
                    ref = op(*a, **kw, backend="torch")
                    t_torch = None
                    for backend, why in op.reasons(dev).items():
                        if args.backends and backend not in args.backends:
                            continue
                        row = {"op": name, "shape": list(shape), "device": dev.type, "backend": backend,
                               "threads": threads}
                        if why or (backend == "triton" and dev.type == "cpu" and not args.interpreter):
                            row["skipped"] = why or "Triton on CPU runs in the interpreter (pass --interpreter)"
                            report["results"].append(row)
                            continue
                        try:
                            got = op(*a, **kw, backend=backend, out=out)
                            diff = _diff(got, ref)
                            if nbytes not in same_copies:
                                src = torch.rand(max(1, nbytes // 8), device=dev)
                                same_copies[nbytes] = (src, torch.empty_like(src))
                            src, dst = same_copies[nbytes]
                            r, same = _time_pair(lambda: op(*a, **kw, backend=backend, out=out),
                                                 lambda: dst.copy_(src), dev, args.repeats, args.min_time)
                        except Exception as exc:  # one broken backend must not lose the other measurements
                            row["error"] = f"{type(exc).__name__}: {exc}"[:500]
                            report["results"].append(row)
                            print(f"[{dev}] {name:24s} {'x'.join(map(str, shape)):14s} {backend:6s} ERROR "
                                  f"{row['error']}", flush=True)
                            continue
                        if backend == "torch":
                            t_torch = r["median_s"]
                        row.update(r, bytes=nbytes, bytes_per_s=nbytes / r["median_s"],
                                   same_bytes_copy_s=same["median_s"],
                                   of_same_bytes_copy=same["median_ratio"],
                                   of_copy_bandwidth=nbytes / r["median_s"] / bw["bytes_per_s"],
                                   of_latent_copy_bandwidth=nbytes / r["median_s"] / small["bytes_per_s"],
                                   speedup_vs_torch=(t_torch / r["median_s"]) if t_torch else None,
                                   max_abs_diff_vs_torch=diff)
                        report["results"].append(row)
                        print(f"[{dev}{' ' + tag if tag else ''}] {name:24s} {'x'.join(map(str, shape)):14s} "
                              f"{backend:6s} {r['median_s'] * 1e3:9.3f} ms  {row['bytes_per_s'] / 1e9:7.2f} GB/s "
                              f"({row['of_same_bytes_copy']:6.1%} of a same-bytes copy, {row['of_copy_bandwidth']:6.1%}"
                              f" of the large copy)  x{row['speedup_vs_torch'] or 1.0:5.1f} vs torch  diff {diff:.1e}",
                              flush=True)
    torch.set_num_threads(restore[0])
    if cpu:
        cpu.set_num_threads(restore[1])
    report["summary"] = summarise(report)
    for line in summary_lines(report["summary"]):
        print(line)
    report["machine"]["loadavg_at_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report["note"] = ("bytes = what the op must read + write once (inputs, γ/level maps, output); of_same_bytes_copy = "
                      "time of dst.copy_(src) moving those bytes / time of the op, both timed in this run (the "
                      "bandwidth target). The large copy measures DRAM bandwidth; a latent of a few MiB stays in the "
                      "CPU caches. A loaded machine (see loadavg) makes the times noisy.")
    return report


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="rac-video bench kernels", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default=DEFAULT_SIZES,
                   type=lambda s: [_parse_size(v) for v in s.split(",") if v.strip()],
                   help=f"comma-separated NxCxHxW latent sizes (default {DEFAULT_SIZES})")
    p.add_argument("--repeats", type=int, default=5, help="timed batches per case (median reported)")
    p.add_argument("--min-time", type=float, default=0.05, help="seconds per timed batch (calls are batched)")
    p.add_argument("--threads", default="", type=_parse_threads,
                   help="comma-separated torch and OpenMP thread counts, 'all' = every usable CPU (e.g. 1,all; "
                        "default: leave as is)")
    p.add_argument("--ops", default="", type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
                   help="only these ops (comma-separated; default all)")
    p.add_argument("--backends", default="", type=lambda s: [v.strip() for v in s.split(",") if v.strip()],
                   help="only time these backends (the torch reference still runs once for the diff)")
    p.add_argument("--copy-mib", type=int, default=256, help="size of the bandwidth-reference copy")
    p.add_argument("--devices", nargs="+", choices=["cpu", "cuda"],
                   default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    p.add_argument("--interpreter", action="store_true", help="also time Triton through TRITON_INTERPRET=1 on CPU")
    p.add_argument("--out", default=None,
                   help="JSON output (default benchmarks/kernels-<hostname>.json; '-' for none)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    if "cuda" in args.devices and not torch.cuda.is_available():
        p.error("--devices cuda: torch sees no CUDA device")
    args.argv = argv
    report = run(args)
    if args.out != "-":
        out = args.out or os.path.join("benchmarks", f"kernels-{socket.gethostname()}.json")
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        with open(out, "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        print(f"wrote {out}")
    return 1 if any(e["errors"] for e in report["summary"].values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
