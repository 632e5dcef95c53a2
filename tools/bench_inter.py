"""P-frames against all-intra: bits at equal quality (BD-rate), decode time, flicker in low-importance regions.

    OMP_NUM_THREADS=1 nice -n 10 python tools/bench_inter.py --model rac-tiny-v6p \\
        --config tools/eval_configs/basketballpass_gaze.toml --sequence BasketballPass-native --gop 24 \\
        --qualities 4,7,10,13 --out bench_inter_bp.json

Both codings use the same model (its I-frames are the base model's, bit for bit) through the evaluation's
own method (``rac_video.eval.ours.OursMethod``: the importance map or gaze side info as ``rac-video eval``
sends it, every container byte counted) and its metrics (``rac_video.eval.metrics.sequence_metrics``:
PSNR, MS-SSIM, ROI/background splits, flicker in importance < threshold). BD-rates with
``rac_video.eval.bdrate`` (pchip). Decode time: wall time of decoding the whole sequence, per frame, best of
``--repeat``; the P-frame time is solved from the GOP run: (T·t_gop − n_I·t_intra)/n_P.
"""
from __future__ import annotations

import argparse
import json
import time
import tomllib
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def decode_timing(model, seq, gaze, q, gop, repeat):
    """Decode time of the same frames as I-frames (``decode_levels`` + ``reconstruct``, what an all-intra
    decoder runs) and as P-frames (``inter.decode_p`` + ``inter.reconstruct`` with hold), interleaved frame
    by frame so that load changes hit both alike; medians over frames × ``repeat``."""
    from rac_video.codec import inter, load_model
    from rac_video.importance.sideinfo import FoveatedGaze, levels_from_importance

    c = load_model(model)
    T, H, W, _ = seq.frames.shape
    hw = c.latent_hw(H, W)
    lvs = []
    for t in range(T):
        if gaze is not None:
            lvs.append(np.asarray(FoveatedGaze(np.asarray(gaze[0][t], np.float64)[None], (H, W), gaze[2] or None,
                                               display=gaze[1], n_levels=c.levels).levels(hw), np.uint8))
        else:
            lvs.append(np.asarray(levels_from_importance(seq.importance[t], hw, levels=c.levels), np.uint8))
    n = min(T, gop)
    intra = [c.encode_frame(seq.frames[t], lvs[t], q) for t in range(n)]
    k, prm, K, _ = c.decode_levels(intra[0], lvs[0], q, height=H, width=W)
    ref = inter.intra_reference(c, intra[0], k, lvs[0], q, height=H, width=W, source=seq.frames[0])
    _, ref.y0 = inter.reconstruct(c, k, prm, lvs[0], q, height=H, width=W, steps=K)
    refs, pay = [], []
    for t in range(1, n):
        p, eref = inter.encode_p(c, seq.frames[t], lvs[t], q, ref)
        refs.append(ref)
        k, prm, K, nref = inter.decode_p(c, p, lvs[t], q, ref, height=H, width=W)
        _, nref.y0 = inter.reconstruct(c, k, prm, lvs[t], q, height=H, width=W, steps=K, ref=ref, hold=nref.hold)
        nref.y = eref.y
        pay.append(p)
        ref = nref
    ti, tp = [], []
    for _ in range(repeat):
        for t in range(1, n):
            t0 = time.perf_counter()
            k, prm, K, _ = c.decode_levels(intra[t], lvs[t], q, height=H, width=W)
            c.reconstruct(k, prm, lvs[t], q, height=H, width=W, steps=K)
            t1 = time.perf_counter()
            k, prm, K, nref = inter.decode_p(c, pay[t - 1], lvs[t], q, refs[t - 1], height=H, width=W)
            inter.reconstruct(c, k, prm, lvs[t], q, height=H, width=W, steps=K, ref=refs[t - 1], hold=nref.hold)
            t2 = time.perf_counter()
            ti.append(t1 - t0)
            tp.append(t2 - t1)
    res = {"q": q, "frames": n - 1, "repeat": repeat, "intra_ms_median": 1e3 * float(np.median(ti)),
           "p_ms_median": 1e3 * float(np.median(tp)), "ratio_of_medians": float(np.median(tp) / np.median(ti))}
    print(json.dumps({"sequence": seq.name, "decode_time_interleaved": res}), flush=True)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--sequence", action="append", help="sequence name(s) of the config (default: all)")
    p.add_argument("--model", default="rac-tiny-v6p")
    p.add_argument("--gop", type=int, default=24)
    p.add_argument("--qualities", default="4,7,10,13")
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--no-hold", action="store_true", help="P-frames re-generate repeated content (inter.reconstruct)")
    p.add_argument("--skip-tol", type=float, default=None, help="the encoder's skip tolerance in steps (inter.SKIP_TOL)")
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    from rac_video.eval import bdrate
    from rac_video.eval.metrics import sequence_metrics
    from rac_video.eval.ours import OursMethod
    from rac_video.eval.results import BD_CONVENTION, ssim_db
    from rac_video.eval.sources import load_sequence

    cfg = tomllib.loads(Path(args.config).read_text().replace("{data}", args.data))
    thr = float(cfg.get("roi_threshold", 0.5))
    qs = [int(q) for q in args.qualities.split(",")]
    results = {"gop": args.gop, "hold": not args.no_hold, "skip_tol": args.skip_tol, "bd_convention": BD_CONVENTION,
               "sequences": {}}
    for scfg in cfg["sequence"]:
        if args.sequence and scfg["name"] not in args.sequence:
            continue
        seq = load_sequence(scfg, max_frames=args.frames)
        gaze = None
        if scfg.get("importance", {}).get("type") == "gaze":
            gaze = (seq.fixations, seq.display, scfg["importance"].get("params"))
        T = len(seq.frames)
        out = {"frames": T, "fps": seq.fps, "curves": {}}
        for name, gop in (("intra", 1), ("p", args.gop)):
            m = OursMethod(model=args.model, fps=seq.fps, gop=gop, hold=not args.no_hold, skip_tol=args.skip_tol)
            pts = []
            for q in qs:
                enc = m.encode(seq.frames, seq.importance, q, gaze=gaze)
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    rec = enc.decode()
                    times.append(time.perf_counter() - t0)
                met = sequence_metrics(seq.frames, rec, total_bytes=enc.nbytes, importance=seq.importance,
                                       threshold=0.5)["summary"]
                met_roi = sequence_metrics(seq.frames, rec, total_bytes=enc.nbytes, importance=seq.importance,
                                           threshold=thr)["summary"] if thr != 0.5 else met
                pt = {"q": q, "bytes": enc.nbytes, "bpp": met["bpp"], "psnr": met["psnr"], "ms_ssim": met["ms_ssim"],
                      "psnr_roi": met_roi["psnr_roi"], "ms_ssim_roi": met_roi["ms_ssim_roi"],
                      "flicker_bg_rmse": met["flicker_bg_rmse"], "flicker_bg_ratio": met["flicker_bg_ratio"],
                      "bg_share": 1 - met["roi_share"], "decode_s_per_frame": min(times) / T,
                      "payload_bytes": enc.info["payload_bytes"]}
                pts.append(pt)
                print(json.dumps({"sequence": seq.name, "coding": name, **{k: v for k, v in pt.items()
                                                                          if k != "payload_bytes"}}), flush=True)
            out["curves"][name] = pts
        a, b = out["curves"]["intra"], out["curves"]["p"]
        bd = {}
        for key in ("psnr", "ms_ssim", "psnr_roi", "ms_ssim_roi"):
            f = ssim_db if "ms_ssim" in key else float       # BD_CONVENTION: MS-SSIM in dB
            try:
                bd[key] = bdrate.bd_rate([x["bytes"] for x in a], [f(x[key]) for x in a], [x["bytes"] for x in b],
                                         [f(x[key]) for x in b])
            except Exception as e:  # noqa: BLE001 - reported, not hidden
                bd[key] = f"n/a: {e}"
        out["bd_rate_p_vs_intra_percent"] = bd
        n_i = -(-T // args.gop)
        ratios = []
        for x, y in zip(a, b):
            t_i, t_g = x["decode_s_per_frame"], y["decode_s_per_frame"]
            t_p = (T * t_g - n_i * t_i) / max(1, T - n_i)
            ratios.append({"q": x["q"], "intra_ms": 1e3 * t_i, "p_ms": 1e3 * t_p, "ratio": t_p / t_i})
        out["decode_time"] = ratios
        out["flicker_bg_rmse_ratio_p_over_intra"] = [
            (y["flicker_bg_rmse"] / x["flicker_bg_rmse"]) if x["flicker_bg_rmse"] else None for x, y in zip(a, b)]
        out["decode_time_interleaved"] = decode_timing(args.model, seq, gaze, qs[len(qs) // 2], args.gop,
                                                       max(3, 3 * args.repeat))
        results["sequences"][seq.name] = out
        print(json.dumps({"sequence": seq.name, "bd_rate": bd, "decode_time": ratios,
                          "flicker_ratio": out["flicker_bg_rmse_ratio_p_over_intra"]}), flush=True)
    per = [s["bd_rate_p_vs_intra_percent"] for s in results["sequences"].values()]
    results["mean_bd_rate_p_vs_intra_percent"] = {   # per sequence, then averaged (BD_CONVENTION)
        k: float(np.mean([b[k] for b in per])) for k in ("psnr", "ms_ssim", "psnr_roi", "ms_ssim_roi")
        if per and all(isinstance(b[k], float) for b in per)}
    print(json.dumps({"mean_bd_rate_p_vs_intra_percent": results["mean_bd_rate_p_vs_intra_percent"]}))
    if args.out:
        from rac_video.eval.report import write_report

        write_report(args.out, "tools/bench_inter.py", argv, args.model, **results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
