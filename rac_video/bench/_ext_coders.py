"""Worker of ``rac-video bench rans``: CompressAI and constriction on the same symbols.

Standalone (imports neither rac_video nor anything it needs): CompressAI 1.2.8 downgrades
numpy below 2, so it usually lives in its own venv and this file runs under that venv's
Python, reading the symbols from an .npz and printing one JSON object.

    python _ext_coders.py DATA.npz REPEATS
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np


def _best(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def _torchvision_shim():
    # compressai imports torchvision; a CPU torch without a matching torchvision needs these schemas
    import torch

    try:
        import torchvision  # noqa: F401
        return
    except Exception:  # noqa: BLE001
        pass
    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
        _torchvision_shim.lib = lib
    except Exception:  # noqa: BLE001
        pass


def compressai_rans(d, repeats):
    from compressai.ans import RansDecoder, RansEncoder
    import compressai

    freqs, lengths, mins = d["freqs"], d["lengths"], d["min_values"]
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    cdfs = [np.concatenate([[0], np.cumsum(freqs[a:a + n])]).astype(np.int32).tolist() for a, n in zip(starts, lengths)]
    cdf_lengths = (lengths + 1).astype(np.int32).tolist()
    offsets = mins.astype(np.int32).tolist()
    sym, ix = d["symbols"].tolist(), d["indexes"].tolist()
    n = len(sym)
    enc, dec = RansEncoder(), RansDecoder()
    te, data = _best(lambda: enc.encode_with_indexes(sym, ix, cdfs, cdf_lengths, offsets), repeats)
    td, out = _best(lambda: dec.decode_with_indexes(data, ix, cdfs, cdf_lengths, offsets), repeats)
    return {"version": compressai.__version__, "bytes": len(data), "round_trip": out == sym,
            "encode_s": te, "decode_s": td, "encode_symbols_per_s": n / te, "decode_symbols_per_s": n / td,
            "note": "RansEncoder/RansDecoder *_with_indexes on our integer tables (same ideal); Python lists "
                    "prepared outside the timing"}


def compressai_gaussian_conditional(d, repeats):
    import torch
    from compressai.entropy_models import GaussianConditional

    gc = GaussianConditional(None)
    gc.update_scale_table(torch.tensor(d["scale_table"].astype(np.float64)))
    gc.update()
    y, mu, s = (torch.from_numpy(d[k].astype(np.float32)) for k in ("y", "mu", "scale"))
    n = y.numel()

    def enc():
        return gc.compress(y, gc.build_indexes(s), means=mu)

    te, strings = _best(enc, repeats)
    td, y_hat = _best(lambda: gc.decompress(strings, gc.build_indexes(s), means=mu), repeats)
    ok = bool(torch.equal(y_hat, torch.round(y - mu) + mu))
    return {"bytes": sum(len(b) for b in strings), "round_trip": ok, "encode_s": te, "decode_s": td,
            "encode_symbols_per_s": n / te, "decode_symbols_per_s": n / td,
            "note": "GaussianConditional(scale_table=SCALE_TABLE).compress/decompress incl. build_indexes "
                    "(its own CDFs; symbols round(y - mu), one string per batch item). Its bytes are not "
                    "comparable: undithered symbols centred on mu carry less information than ours"}


def constriction_ans(d, repeats):
    import constriction

    sym = d["symbols"].astype(np.int32)
    mu = np.zeros(sym.size, np.float64)
    std = np.maximum(d["table_scale"].astype(np.float64), 1e-3)
    lo, hi = int(sym.min()), int(sym.max())
    model = constriction.stream.model.QuantizedGaussian(lo, hi)

    def enc():
        c = constriction.stream.stack.AnsCoder()
        c.encode_reverse(sym, model, mu, std)
        return c.get_compressed()

    te, comp = _best(enc, repeats)

    def dec():
        return constriction.stream.stack.AnsCoder(comp).decode(model, mu, std)

    td, out = _best(dec, repeats)
    return {"version": getattr(constriction, "__version__", "?"), "bytes": int(comp.nbytes),
            "round_trip": bool(np.array_equal(out, sym)), "encode_s": te, "decode_s": td,
            "encode_symbols_per_s": sym.size / te, "decode_symbols_per_s": sym.size / td,
            "note": f"stack.AnsCoder + QuantizedGaussian({lo}, {hi}) with the table scale of each symbol"}


def main(argv):
    d = dict(np.load(argv[0]))
    repeats = int(argv[1])
    res = {}
    _torchvision_shim()
    for name, fn in (("compressai_rans", compressai_rans),
                     ("compressai_gaussian_conditional", compressai_gaussian_conditional),
                     ("constriction_ans", constriction_ans)):
        try:
            res[name] = fn(d, repeats)
        except Exception as exc:  # noqa: BLE001  (reported, not fatal: these are optional comparisons)
            res[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
    res["python"] = sys.version.split()[0]
    res["numpy"] = np.__version__
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
