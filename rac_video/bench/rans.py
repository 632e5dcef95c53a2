"""Entropy-coding benchmark: the rANS coder and the fused entropy-parameter op.

    rac-video bench rans [--symbols 1000000] [--repeats 3] [--out benchmarks/rans-HOST.json]
                         [--compressai-python PATH]

Data: ``--symbols`` Gaussian-conditional latents, shape (1, 64, 125, W): means N(0, 4²),
scales log-uniform in [0.11, 64], y = μ + s·N(0, 1), Δ = 1, then exactly the codec's path —
k = quantize(y), (offset, index, bits) = entropy_params(μ, s, k=k), symbols k − offset.

Measured (best of ``--repeats``):

* rANS encode / decode at 1 thread and at all threads: symbols/s, MB/s of the output
  (the stream for encode, the int32 symbols for decode), bytes vs the ideal size under the
  integer tables and vs the model's information content (Σ bits of the op, exact scales);
* end to end like CompressAI's ``GaussianConditional``: entropy_params + encode, and
  entropy_params + decode + offset;
* ``entropy_params`` per available backend on each device, with and without the bits,
  against the torch reference (unavailable backends are listed with the reason);
* CompressAI 1.2.8 (raw ``RansEncoder``/``RansDecoder`` on our tables, and its
  ``GaussianConditional`` path) and constriction 0.5 on the same symbols, when importable
  here or in the interpreter given by ``--compressai-python`` (CompressAI pins numpy < 2, so
  it usually has its own venv); otherwise recorded as skipped with the reason.

Writes ``benchmarks/rans-<hostname>.json`` with the machine described.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _best(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def machine() -> dict:
    """The common machine block (rac_video.eval.report.machine_record; the GPU when there is one, since
    entropy_params is timed on it) plus numpy, the C++ module, the git commit and the load average."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    from .. import _native
    from ..eval.report import machine_record

    mod = _native.cpu_module()[0]
    return machine_record(gpu=torch.cuda.is_available(), numpy=np.__version__, native_cpu_module=bool(mod),
                          git_commit=commit, load_average_1_5_15min=[round(v, 2) for v in os.getloadavg()])


def make_data(n: int, seed: int = 0):
    from .. import ops

    C, H = 64, 125
    W = max(1, math.ceil(n / (C * H)))
    g = torch.Generator().manual_seed(seed)
    shape = (1, C, H, W)
    mu = torch.randn(shape, generator=g) * 4
    s = torch.exp(torch.empty(shape).uniform_(math.log(0.11), math.log(64.0), generator=g))
    y = mu + s * torch.randn(shape, generator=g)
    level = torch.zeros((1, 1, H, W), dtype=torch.int32)
    delta = torch.ones(1)
    k = ops.quantize(y, level, delta, seed)
    off, idx, bits = ops.entropy_params(mu, s, level, delta, seed, k=k)
    return {"mu": mu, "scale": s, "y": y, "level": level, "delta": delta, "k": k, "offset": off, "index": idx,
            "bits": bits, "symbols": (k - off).numpy().reshape(-1), "indexes": idx.numpy().reshape(-1), "seed": seed}


def bench_rans(d, repeats, thread_counts):
    from .. import entropy as E
    from .. import ops

    tb = E.gaussian_tables()
    sym, ix = d["symbols"], d["indexes"]
    n = sym.size
    ideal = tb.ideal_bits(sym, ix) / 8
    model = float(d["bits"].double().sum()) / 8
    res = {"symbols": int(n), "ideal_bytes_integer_tables": ideal, "model_bytes_exact_scales": model,
           "escapes": int(np.sum((sym < tb.min_values[ix]) | (sym > tb.min_values[ix] + tb.lengths[ix] - 2))),
           "threads": {}}
    data = None
    for th in thread_counts:
        te, data = _best(lambda: E.encode(sym, ix, tb, threads=th), repeats)
        td, out = _best(lambda: E.decode(data, ix, tb, threads=th), repeats)
        assert np.array_equal(out, sym), "rANS round trip failed"
        level, delta, seed = d["level"], d["delta"], d["seed"]

        def e2e_encode():
            with torch.no_grad():
                off, idx, _ = ops.entropy_params(d["mu"], d["scale"], level, delta, seed)
                return E.encode((d["k"] - off).numpy(), idx.numpy(), tb, threads=th)

        def e2e_decode():
            off, idx, _ = ops.entropy_params(d["mu"], d["scale"], level, delta, seed)
            return torch.from_numpy(E.decode(data, idx.numpy(), tb, threads=th)).view(off.shape) + off

        before = torch.get_num_threads()
        torch.set_num_threads(th)
        try:
            tee, _ = _best(e2e_encode, repeats)
            ted, k_back = _best(e2e_decode, repeats)
        finally:
            torch.set_num_threads(before)
        assert torch.equal(k_back, d["k"]), "end-to-end round trip failed"
        res["threads"][str(th)] = {
            "encode_s": te, "decode_s": td,
            "encode_symbols_per_s": n / te, "decode_symbols_per_s": n / td,
            "encode_out_MB_per_s": len(data) / te / 1e6, "decode_out_MB_per_s": 4 * n / td / 1e6,
            "decode_in_MB_per_s": len(data) / td / 1e6,
            "end_to_end_encode_symbols_per_s": n / tee, "end_to_end_decode_symbols_per_s": n / ted,
        }
    res["bytes"] = len(data)
    res["overhead_vs_integer_tables_pct"] = 100 * (len(data) / ideal - 1)
    res["overhead_vs_model_pct"] = 100 * (len(data) / model - 1)
    res["bits_per_symbol"] = 8 * len(data) / n
    res["lanes"], res["chunk_size"] = 8, E.rans.DEFAULT_CHUNK
    return res


def bench_ops(d, repeats):
    from .. import ops

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    out = {}
    for dev in devices:
        args = [d[k].to(dev) for k in ("mu", "scale", "level", "delta")]
        k = d["k"].to(dev)
        reasons = ops.entropy_params.reasons(dev)
        row = {}
        for b in ("torch", "cpu", "cuda", "triton"):
            if reasons[b]:
                row[b] = {"skipped": reasons[b]}
                continue
            entry = {}
            for label, kw in (("params", {}), ("params_and_bits", {"k": k})):
                def call():
                    r = ops.entropy_params(*args, d["seed"], backend=b, **kw)
                    _sync(dev)
                    return r

                call()  # warm-up (Triton compiles, CUDA loads)
                t, r = _best(call, repeats)
                entry[f"{label}_s"] = t
                entry[f"{label}_elements_per_s"] = k.numel() / t
                assert torch.equal(r[0].cpu(), d["offset"]) and torch.equal(r[1].cpu(), d["index"])
            row[b] = entry
        for b, e in row.items():
            if "params_s" in e and "params_s" in row.get("torch", {}):
                e["speedup_vs_torch"] = row["torch"]["params_s"] / e["params_s"]
                e["speedup_vs_torch_with_bits"] = row["torch"]["params_and_bits_s"] / e["params_and_bits_s"]
        out[dev.type] = row
    return out


def bench_external(d, repeats, python):
    """CompressAI / constriction via the standalone worker, in this interpreter or ``python``."""
    from .. import entropy as E

    tb = E.gaussian_tables()
    worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_ext_coders.py")
    exe = python or sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.npz")
        np.savez(path, symbols=d["symbols"], indexes=d["indexes"], freqs=np.concatenate(tb.freqs),
                 lengths=tb.lengths, min_values=tb.min_values, y=d["y"].numpy(), mu=d["mu"].numpy(),
                 scale=d["scale"].numpy(), scale_table=E.SCALE_TABLE, table_scale=E.SCALE_TABLE[d["indexes"]])
        env = dict(os.environ, OMP_NUM_THREADS="1")
        proc = subprocess.run([exe, worker, path, str(repeats)], capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not proc.stdout.strip():
        return {"skipped": f"worker under {exe} failed: {(proc.stderr or proc.stdout)[-800:]}"}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["interpreter"] = exe
    return res


def _ratios(res):
    ext, ours = res.get("external", {}), res["rans"]["threads"].get("1")
    if not ours:
        return {}
    out = {}
    for name, key_e, key_d in (("compressai_rans", "encode_symbols_per_s", "decode_symbols_per_s"),
                               ("constriction_ans", "encode_symbols_per_s", "decode_symbols_per_s")):
        e = ext.get(name, {})
        if "encode_s" in e:
            out[f"{name}_encode_x"] = ours[key_e] / e[key_e]
            out[f"{name}_decode_x"] = ours[key_d] / e[key_d]
    e = ext.get("compressai_gaussian_conditional", {})
    if "encode_s" in e:
        out["compressai_gaussian_conditional_end_to_end_encode_x"] = \
            ours["end_to_end_encode_symbols_per_s"] / e["encode_symbols_per_s"]
        out["compressai_gaussian_conditional_end_to_end_decode_x"] = \
            ours["end_to_end_decode_symbols_per_s"] / e["decode_symbols_per_s"]
    th = res["rans"]["threads"]
    if len(th) > 1:
        top = str(max(int(t) for t in th))
        out[f"threads_{top}_vs_1_encode_x"] = th["1"]["encode_s"] / th[top]["encode_s"]
        out[f"threads_{top}_vs_1_decode_x"] = th["1"]["decode_s"] / th[top]["decode_s"]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rac-video bench rans", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--symbols", type=int, default=10**6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="*", help="thread counts (default: 1 and all)")
    ap.add_argument("--compressai-python", help="Python of a venv with compressai 1.2.8 / constriction 0.5")
    ap.add_argument("--no-external", action="store_true", help="skip CompressAI / constriction")
    ap.add_argument("--out", help="JSON path (default benchmarks/rans-<hostname>.json in the repo)")
    args = ap.parse_args(argv)

    from .. import _native

    if _native.cpu_module()[0] is None:
        print(f"bench rans: the C++ module is required: {_native.cpu_module()[1]}", file=sys.stderr)
        return 2
    all_threads = torch.get_num_threads()
    threads = args.threads or sorted({1, all_threads})
    d = make_data(args.symbols)
    from ..eval.report import benchmark_record, write_record

    res = benchmark_record(
        "rac-video bench rans", sys.argv[1:] if argv is None else argv, None, machine=machine(),
        what="rANS coder + fused entropy_params (rac-video bench rans)",
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        repeats=args.repeats, timing="best of repeats, wall clock",
        data="Gaussian-conditional: mu ~ N(0,16), scales log-uniform [0.11, 64], y = mu + s N(0,1), "
             "Delta = 1, dithered quantization; symbols = k - offset, table index of s")
    res["rans"] = bench_rans(d, args.repeats, threads)
    res["entropy_params"] = bench_ops(d, args.repeats)
    if args.no_external:
        res["external"] = {"skipped": "--no-external"}
    else:
        res["external"] = bench_external(d, args.repeats, args.compressai_python)
    res["ratios"] = _ratios(res)
    res["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    out = args.out or os.path.join(ROOT, "benchmarks", f"rans-{platform.node() or 'host'}.json")
    write_record(out, res)
    r = res["rans"]
    for th, t in r["threads"].items():
        print(f"rANS threads={th}: encode {t['encode_symbols_per_s'] / 1e6:.1f} M sym/s "
              f"({t['encode_out_MB_per_s']:.1f} MB/s out), decode {t['decode_symbols_per_s'] / 1e6:.1f} M sym/s; "
              f"end to end {t['end_to_end_encode_symbols_per_s'] / 1e6:.1f} / "
              f"{t['end_to_end_decode_symbols_per_s'] / 1e6:.1f} M sym/s")
    print(f"size {r['bytes']} B = {r['overhead_vs_integer_tables_pct']:+.3f} % vs the integer tables' ideal, "
          f"{r['overhead_vs_model_pct']:+.3f} % vs the model ({r['bits_per_symbol']:.3f} bits/symbol)")
    for dev, row in res["entropy_params"].items():
        for b, e in row.items():
            if "params_s" in e:
                print(f"entropy_params {dev}/{b}: {e['params_s'] * 1e3:.2f} ms, with bits "
                      f"{e['params_and_bits_s'] * 1e3:.2f} ms" +
                      (f" ({e['speedup_vs_torch']:.1f}x / {e['speedup_vs_torch_with_bits']:.1f}x torch)"
                       if "speedup_vs_torch" in e and b != "torch" else ""))
    ext = res["external"]
    for name in ("compressai_rans", "compressai_gaussian_conditional", "constriction_ans"):
        e = ext.get(name, ext)
        print(f"{name}: " + (f"encode {e['encode_symbols_per_s'] / 1e6:.1f} M/s, decode "
                             f"{e['decode_symbols_per_s'] / 1e6:.1f} M/s, {e['bytes']} B"
                             if "encode_s" in e else f"skipped ({e.get('skipped', '?')[:200]})"))
    if res["ratios"]:
        print("ratios: " + ", ".join(f"{k} {v:.2f}" for k, v in res["ratios"].items()))
    print(f"wrote {out}")
    return 0
