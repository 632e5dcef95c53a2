"""Config-driven evaluation runs: every method on every sequence at matched bitrates, metrics, BD-rates,
JSON/CSV outputs (and optional plots and side-by-side videos).

This module is the matching loop (:func:`run_config`); the config format and its reading are in
:mod:`rac_video.eval.config`, the tables, reports and output files in :mod:`rac_video.eval.results`
(their public names are re-exported here).

Targets: when ``ours`` runs, each of its qualities gives a total size and every baseline is matched to
it (``rac_video.eval.matching``, within ``tolerance``); otherwise each ``bpp`` value gives the target.
``ours-uniform`` runs at the same qualities (its own sizes).
"""
from __future__ import annotations

import os
import time

from . import baselines as B
from . import metrics as M
from .config import EvalConfigError, data_root, default_qualities, environment, load_config
from . import realism_report as RR
from .matching import match_baseline
from .results import (BD_METRICS, BDQ_METRICS, CSV_KEYS, HEADLINE_QUALITY, HEADLINE_RATE, bd_markdown, bd_means,
                      bd_table, headline, headline_markdown, report_markdown, summary_table, write_bench,
                      write_outputs)
from .sources import load_sequence

__all__ = ["run_config", "EvalConfigError", "load_config", "data_root", "default_qualities", "environment",
           "BD_METRICS", "BDQ_METRICS", "CSV_KEYS", "HEADLINE_RATE", "HEADLINE_QUALITY", "bd_table", "bd_means",
           "bd_markdown", "summary_table", "headline", "headline_markdown", "report_markdown", "write_outputs",
           "write_bench"]


def _make_method(name, cfg, fps):
    bcfg = cfg.get("baseline", {})
    if name in ("ours-p", "ours-intra"):   # P-frames (rac_video.codec.inter): [ours-p] gop, model in the config;
        from .ours import OursMethod       # ours-intra: the same model and settings, every frame intra (GOP 1)

        pcfg = {"gop": 12, **cfg.get("ours-p", {})}
        if name == "ours-intra":
            pcfg["gop"] = 1
        m = OursMethod(fps=fps, **pcfg)
        m.name = name
        return m
    if name in ("ours", "ours-uniform", "ours-realism"):
        from .ours import OursMethod

        ocfg = cfg.get("ours", {})
        rho = float(cfg.get("realism", {}).get("rho", 1.0)) if name == "ours-realism" else 0.0
        return OursMethod(uniform=name == "ours-uniform", fps=fps, realism=rho, **ocfg)
    kw = {}
    if name != "jpeg":
        kw = {"fps": fps, "preset": bcfg.get("preset"), "threads": int(bcfg.get("threads", 1))}
        if name.endswith("-roi"):
            kw["roi_strength"] = float(bcfg.get("roi_strength", 12.0))
        if name.startswith("svtav1") and "svtav1_preset" in bcfg:
            kw["preset"] = str(bcfg["svtav1_preset"])
        elif name.startswith("svtav1"):
            kw["preset"] = None
    return B.make_baseline(name, **kw)


def _measure(seq, rec, nbytes, cfg, use_fvvdp):
    ppd = M.pixels_per_degree(seq.display, seq.frames.shape[1:3])
    res = M.sequence_metrics(seq.frames, rec, total_bytes=nbytes, importance=seq.importance,
                             fixations=seq.fixations, display=seq.display,
                             threshold=float(seq.info.get("roi_threshold", cfg.get("roi_threshold", 0.5))))
    res["summary"]["ppd"] = ppd
    if cfg.get("realism", {}).get("metrics", True):
        thr = float(seq.info.get("roi_threshold", cfg.get("roi_threshold", 0.5)))
        res["summary"].update(RR.sequence_realism(seq.frames, rec, seq.importance, threshold=thr))
    res["summary"]["fvvdp_jod"] = None
    if use_fvvdp:
        try:
            fv = M.fovvideovdp(seq.frames, rec, seq.fps, fixations=seq.fixations, display=seq.display)
            res["summary"]["fvvdp_jod"] = fv["jod"]
            res["fvvdp"] = fv
        except ImportError:
            pass
    return res


def run_config(cfg: dict, *, out_dir, max_frames=None, methods=None, use_fvvdp=None, plots=False,
               sidebyside=False, log=print) -> dict:
    """Run an eval config; write results.json, summary.csv, bdrate.csv (+ plots / videos) to out_dir."""
    t_run = time.time()
    methods = list(methods or cfg.get("methods") or ["x264-roi", "x264", "jpeg"])
    if not cfg.get("sequence"):
        raise EvalConfigError("config has no [[sequence]] entries")
    rates = cfg.get("rates", {})
    tol = float(cfg.get("tolerance", 0.02))
    if use_fvvdp is None:
        use_fvvdp = bool(cfg.get("fvvdp", True))
    os.makedirs(out_dir, exist_ok=True)
    results = {"name": cfg.get("name"), "config": {k: v for k, v in cfg.items() if not k.startswith("_")},
               "config_path": cfg.get("_config_path"), "environment": environment(), "methods": {},
               "skipped": {}, "entries": [], "bdrate": []}
    for scfg in cfg["sequence"]:
        seq = load_sequence(scfg, max_frames=max_frames)
        T, H, W, _ = seq.frames.shape
        log(f"[eval] {seq.name}: {T} frames {W}x{H} at {seq.fps:g} fps, importance {seq.info['importance'].get('type')}")
        made = {}
        for name in methods:
            try:
                made[name] = _make_method(name, cfg, seq.fps)
                results["methods"][name] = made[name].describe()
            except (B.BaselineError, ImportError) as e:
                results["skipped"][name] = str(e)
                log(f"[eval]   skip {name}: {e}")
        sbs_ours = {}  # our reconstruction at the middle rate, for the side-by-side videos
        # targets
        ours_runs = {}
        targets = []
        gaze = None
        if seq.info["importance"].get("type") == "gaze":
            gaze = (seq.fixations, seq.display, seq.info["importance"].get("params"))
        # the method whose qualities set the rate targets: ours (and ours-realism: one bitstream, two decodes),
        # else ours-p (P-frames; ours-intra then codes the same qualities all-intra)
        ours = next((n for n in ("ours", "ours-realism", "ours-p") if n in made), None)
        shared = ("ours", "ours-realism") if ours in ("ours", "ours-realism") else (ours,)
        if ours:
            for q in rates.get("qualities") or default_qualities():
                t0 = time.time()
                enc = made[ours].encode(seq.frames, seq.importance, q, gaze=gaze)
                ours_runs[q] = (enc, time.time() - t0)
                targets.append(("q%d" % q, enc.nbytes))
        else:
            for b in rates.get("bpp", [0.05, 0.1, 0.2, 0.4]):
                targets.append(("bpp%g" % b, int(round(b * T * H * W / 8))))
        # extra anchor-only targets (factor x the smallest target when < 1, x the largest when > 1): they
        # widen the baselines' curves so that BD-rate has a quality overlap with a much weaker reference
        extra = []
        for fac in rates.get("anchor_extra", []):
            fac = float(fac)
            base = min(t for _, t in targets) if fac < 1 else max(t for _, t in targets)
            extra.append(("x%g" % fac, max(1, int(round(fac * base)))))
        for name, method in made.items():
            own = targets + ([] if name.startswith("ours") else extra)
            for ti, (tname, target) in enumerate(own):
                t0 = time.time()
                rec = None
                if name in shared:
                    enc, enc_s = ours_runs[int(tname[1:])]
                    rec = enc.decode(realism=method.realism)
                    match = {"target_bytes": target, "bytes": enc.nbytes, "param": enc.param, "rel_error": 0.0,
                             "matched": True, "evals": [[enc.param, enc.nbytes]]}
                elif name in ("ours-uniform", "ours-intra") and tname.startswith("q"):  # same qualities as ours
                    if name == "ours-uniform":   # a uniform map
                        enc = method.encode(seq.frames, None, int(tname[1:]))
                    else:                        # the same maps, every frame intra
                        enc = method.encode(seq.frames, seq.importance, int(tname[1:]), gaze=gaze)
                    enc_s = time.time() - t0
                    # not matched by design: its own size at the same quality (matched = None, "n/a")
                    match = {"target_bytes": target, "bytes": enc.nbytes, "param": enc.param,
                             "rel_error": enc.nbytes / target - 1, "matched": None, "evals": [[enc.param, enc.nbytes]]}
                else:
                    m = match_baseline(method, seq.frames, seq.importance, target, tol=tol)
                    enc, match = m.encoded, m.record()
                    enc_s = time.time() - t0
                rec = enc.decode() if rec is None else rec
                res = _measure(seq, rec, enc.nbytes, cfg, use_fvvdp)
                entry = {"sequence": seq.name, "method": name, "target": tname, **match, "encode_s": enc_s,
                         "metrics": res["summary"], "per_frame": res["frames"], "fvvdp": res.get("fvvdp"),
                         "info": enc.info}
                results["entries"].append(entry)
                s = res["summary"]
                log(f"[eval]   {name:16s} {tname:8s} bpp {s['bpp']:.4f} ({match['rel_error']:+.3f}) "
                    f"PSNR {s['psnr']:.2f} roi {_f(s['psnr_roi'])} fov {_f(s['psnr_fov'])} "
                    f"MS-SSIM {_f(s['ms_ssim'], 4)} roi {_f(s['ms_ssim_roi'], 4)} fov {_f(s['ms_ssim_fov'], 4)}"
                    + (f" JOD {s['fvvdp_jod']:.2f}" if s.get("fvvdp_jod") is not None else ""))
                if sidebyside and ti == len(targets) // 2:
                    _sidebyside(out_dir, seq, name, rec, sbs_ours, log)
        results.setdefault("sequences", {})[seq.name] = {"frames": T, "width": W, "height": H, "fps": seq.fps,
                                                           "frame_indices": seq.frame_indices, **seq.info}
        ref = cfg.get("reference", "ours")
        if ref not in made:
            ref = cfg.get("fallback_reference", "x264-roi")
        results["bdrate"].extend(bd_table(results["entries"], seq.name, ref))
    results["headline"] = headline(results)
    results["elapsed_s"] = time.time() - t_run
    write_outputs(results, out_dir)
    if plots:
        from .plots import plot_results

        for p in plot_results(results, out_dir):
            log(f"[eval] plot {p}")
    log(f"[eval] wrote {out_dir} in {results['elapsed_s']:.1f} s")
    return results


def _sidebyside(out_dir, seq, name, rec, sbs_ours, log):
    from .sidebyside import write_sidebyside

    if name == "ours":
        sbs_ours["ours"] = rec
        return
    ours = sbs_ours.get("ours")
    path = os.path.join(out_dir, f"sbs_{seq.name}_{name}.mp4")
    write_sidebyside(path, seq.frames, rec, ours, seq.importance, fps=seq.fps, labels=("source", name, "ours"))
    log(f"[eval] side-by-side {path}")


def _f(v, nd=2):
    return "  -  " if v is None else f"{v:.{nd}f}"
