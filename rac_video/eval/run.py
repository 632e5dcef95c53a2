"""Config-driven evaluation runs: every method on every sequence at matched bitrates, metrics, BD-rates,
JSON/CSV outputs (and optional plots and side-by-side videos).

Config (TOML or JSON; see tools/eval_configs/*.toml)::

    name = "basketballpass_gaze"
    methods = ["ours", "ours-uniform", "x264-roi", "x264", "x265-roi", "svtav1", "jpeg"]
    reference = "ours"          # BD-rates: every method vs this one (falls back to fallback_reference)
    fallback_reference = "x264-roi"
    roi_threshold = 0.5         # importance >= threshold is "inside" for ROI metrics (a sequence may override)
    tolerance = 0.02            # bitrate matching tolerance
    fvvdp = true                # FovVideoVDP when pyfvvdp is installed
    [rates]
    qualities = [3, 7, 11, 15]  # our codec's qualities (0..Q_MAX): their sizes are the targets of every baseline
    bpp = [0.05, 0.1, 0.2, 0.4] # targets when our codec is absent (or not in methods)
    anchor_extra = [0.5, 0.25]  # optional: baselines also at 0.5x / 0.25x the smallest target (x2: the largest)
    [baseline]
    preset = "medium"
    roi_strength = 12
    [[sequence]]
    name = "BasketballPass"
    frames = "/path/to/frames"   # folder of images or a video file
    fps = 50
    count = 24
    stride = 2
    importance = { type = "gaze", trace = "/path/to/AAF_beach.coord" }

Targets: when ``ours`` runs, each of its qualities gives a total size and every baseline is matched to
it (``rac_video.eval.matching``, within ``tolerance``); otherwise each ``bpp`` value gives the target.
``ours-uniform`` runs at the same qualities (its own sizes).
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

from . import baselines as B
from . import metrics as M
from .bdrate import BDRateError, bd_quality, bd_rate
from .matching import match_baseline
from .sources import load_sequence

BD_METRICS = ("ms_ssim", "ms_ssim_roi", "ms_ssim_fov", "psnr", "psnr_roi", "psnr_fov", "fvvdp_jod")
# BD-quality (dB / MS-SSIM / JOD at equal rate): defined whenever the rate ranges overlap, which matching
# guarantees, while BD-rate needs overlapping quality ranges
BDQ_METRICS = ("psnr", "psnr_roi", "psnr_fov", "ms_ssim", "ms_ssim_roi", "ms_ssim_fov", "fvvdp_jod")
CSV_KEYS = ("sequence", "method", "target", "param", "bytes", "bpp", "rel_error", "matched", "psnr", "psnr_roi",
            "psnr_bg", "psnr_fov", "ms_ssim", "ms_ssim_roi", "ms_ssim_bg", "ms_ssim_fov", "flicker_bg_rmse",
            "flicker_bg_ratio", "fvvdp_jod", "encode_s")


class EvalConfigError(ValueError):
    """An eval config that cannot be run as written."""


def load_config(path) -> dict:
    with open(path, "rb") as f:
        raw = f.read()
    if str(path).endswith(".json"):
        cfg = json.loads(raw)
    else:
        import tomllib

        cfg = tomllib.loads(raw.decode())
    cfg.setdefault("name", os.path.splitext(os.path.basename(path))[0])
    base = os.path.dirname(os.path.abspath(path))
    cfg["_config_path"] = os.path.abspath(path)
    for s in cfg.get("sequence", []):
        for key in ("frames",):
            s[key] = _resolve(s[key], base)
        imp = s.get("importance", {})
        for key in ("dir", "trace"):
            if key in imp:
                imp[key] = _resolve(imp[key], base)
    return cfg


def data_root() -> str:
    """The shared data folder: $RAC_VIDEO_DATA, else <repository>/../shared/data."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.normpath(os.environ.get("RAC_VIDEO_DATA", os.path.join(repo, "..", "shared", "data")))


def _resolve(p, base):
    p = p.replace("{data}", data_root())
    p = os.path.expandvars(os.path.expanduser(p))
    return p if os.path.isabs(p) else os.path.normpath(os.path.join(base, p))


def _git_rev():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        rev = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", here, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (rev + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict:
    import av
    import torch

    env = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
           "torch": torch.__version__, "pyav": av.__version__, "numpy": np.__version__, "git": _git_rev()}
    try:
        from importlib.metadata import version

        env["pyfvvdp"] = version("pyfvvdp")
    except Exception:  # noqa: BLE001 - optional extra
        env["pyfvvdp"] = None
    return env


def default_qualities(n=4) -> list:
    """n qualities of our codec spread evenly over 0..Q_MAX (rac_video.schedule), the top one included."""
    from .. import schedule

    qmax = int(schedule.Q_MAX)
    return sorted({round(qmax * (k + 1) / n) for k in range(n)})


def _make_method(name, cfg, fps):
    bcfg = cfg.get("baseline", {})
    if name == "ours-p":        # P-frames (rac_video.codec.inter): [ours-p] gop, model in the config
        from .ours import OursMethod

        pcfg = {"gop": 12, **cfg.get("ours-p", {})}
        return OursMethod(fps=fps, **pcfg)
    if name in ("ours", "ours-uniform"):
        from .ours import OursMethod

        ocfg = cfg.get("ours", {})
        return OursMethod(uniform=name == "ours-uniform", fps=fps, **ocfg)
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
        if "ours" in made:
            for q in rates.get("qualities") or default_qualities():
                t0 = time.time()
                enc = made["ours"].encode(seq.frames, seq.importance, q, gaze=gaze)
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
            own = targets + ([] if name in ("ours", "ours-uniform") else extra)
            for ti, (tname, target) in enumerate(own):
                t0 = time.time()
                if name == "ours":
                    enc, enc_s = ours_runs[int(tname[1:])]
                    match = {"target_bytes": target, "bytes": enc.nbytes, "param": enc.param, "rel_error": 0.0,
                             "matched": True, "evals": [[enc.param, enc.nbytes]]}
                elif name == "ours-uniform" and tname.startswith("q"):  # same qualities as ours
                    enc = method.encode(seq.frames, None, int(tname[1:]))
                    enc_s = time.time() - t0
                    # not matched by design: its own size at the same quality (matched = None, "n/a")
                    match = {"target_bytes": target, "bytes": enc.nbytes, "param": enc.param,
                             "rel_error": enc.nbytes / target - 1, "matched": None, "evals": [[enc.param, enc.nbytes]]}
                else:
                    m = match_baseline(method, seq.frames, seq.importance, target, tol=tol)
                    enc, match = m.encoded, m.record()
                    enc_s = time.time() - t0
                rec = enc.decode()
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


def bd_table(entries, sequence, reference) -> list:
    """BD-rate of ``reference`` vs every other method of a sequence on BD_METRICS (percent; negative:
    the reference needs fewer bits than that method for the same quality) and BD-quality on BDQ_METRICS
    (``bdq_<metric>``: dB or JOD; positive: the reference is better at the same rate)."""
    by = {}
    for e in entries:
        if e["sequence"] == sequence:
            by.setdefault(e["method"], []).append(e)
    rows = []
    if reference not in by:
        return rows
    for other, es in by.items():
        if other == reference:
            continue
        row = {"sequence": sequence, "reference": reference, "anchor": other}
        for k in BD_METRICS:
            ra = [e["metrics"]["bpp"] for e in es]
            qa = [e["metrics"].get(k) for e in es]
            rb = [e["metrics"]["bpp"] for e in by[reference]]
            qb = [e["metrics"].get(k) for e in by[reference]]
            if any(v is None for v in qa + qb):
                row[k] = None
                continue
            try:
                row[k] = bd_rate(ra, qa, rb, qb)
            except BDRateError as err:
                row[k] = None
                row.setdefault("notes", {})[k] = str(err)
            if k in BDQ_METRICS:
                try:
                    row["bdq_" + k] = bd_quality(ra, qa, rb, qb)
                except BDRateError as err:
                    row["bdq_" + k] = None
                    row.setdefault("notes", {})["bdq_" + k] = str(err)
        rows.append(row)
    return rows


def write_outputs(results, out_dir):
    """results.json (everything, per-frame metrics included), summary.json (the same without per-frame
    lists: small enough to commit), summary.csv (one row per sequence/method/rate), bdrate.csv."""
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=_json_default)
    small = {**results, "entries": [{k: v for k, v in e.items() if k != "per_frame"} for e in results["entries"]]}
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(small, f, separators=(",", ":"), default=_json_default)
    with open(os.path.join(out_dir, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(CSV_KEYS)
        for e in results["entries"]:
            row = {**e["metrics"], **{k: e.get(k) for k in ("sequence", "method", "target", "param", "rel_error",
                                                            "matched", "encode_s")}}
            w.writerow([_cell(row.get(k)) for k in CSV_KEYS])
    with open(os.path.join(out_dir, "bdrate.csv"), "w", newline="") as f:
        w = csv.writer(f)
        keys = BD_METRICS + tuple("bdq_" + k for k in BDQ_METRICS)
        w.writerow(("sequence", "reference", "anchor") + keys)
        for r in results["bdrate"]:
            w.writerow([r["sequence"], r["reference"], r["anchor"]] + [_cell(r.get(k)) for k in keys])


def _cell(v):
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return "" if v is None else v


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def summary_table(results, metric_keys=("bpp", "psnr", "psnr_roi", "psnr_fov", "ms_ssim", "ms_ssim_roi",
                                        "ms_ssim_fov", "flicker_bg_rmse", "fvvdp_jod")) -> str:
    """Markdown table of every entry (one row per sequence/method/target)."""
    head = "| sequence | method | target | " + " | ".join(metric_keys) + " | matched |"
    lines = [head, "|" + "---|" * (len(metric_keys) + 4)]
    for e in results["entries"]:
        vals = []
        for k in metric_keys:
            v = e["metrics"].get(k)
            vals.append("-" if v is None else (f"{v:.4f}" if k in ("bpp",) or "ssim" in k else f"{v:.2f}"))
        lines.append(f"| {e['sequence']} | {e['method']} | {e['target']} | " + " | ".join(vals)
                     + f" | {_matched(e)} ({e.get('rel_error', 0):+.1%}) |")
    return "\n".join(lines)


def _matched(e):
    m = e.get("matched")
    return "n/a" if m is None else ("yes" if m else "no")


def bd_means(rows) -> list:
    """Mean over sequences of every BD value, per (reference, anchor) pair (sequences where a value is
    missing are left out of that mean; ``n`` counts the sequences of the pair)."""
    keys = BD_METRICS + tuple("bdq_" + k for k in BDQ_METRICS)
    pairs = {}
    for r in rows:
        pairs.setdefault((r["reference"], r["anchor"]), []).append(r)
    out = []
    for (ref, anc), rs in pairs.items():
        m = {"sequence": f"mean of {len(rs)}", "reference": ref, "anchor": anc, "n": len(rs)}
        for k in keys:
            v = [r[k] for r in rs if r.get(k) is not None]
            m[k] = float(np.mean(v)) if v else None
            m.setdefault("count", {})[k] = len(v)
        out.append(m)
    return out


def bd_markdown(results) -> str:
    """BD-rate (%) and BD-quality tables: reference vs each other method ('-': curves do not overlap);
    with several sequences, their means follow."""
    keys = BD_METRICS + tuple("bdq_" + k for k in BDQ_METRICS)
    heads = [f"BD-rate {k}" for k in BD_METRICS] + [f"BD-{k[4:]}" for k in keys[len(BD_METRICS):]]
    lines = ["| sequence | reference vs anchor | " + " | ".join(heads) + " |", "|" + "---|" * (len(keys) + 2)]
    rows = list(results["bdrate"])
    if len({r["sequence"] for r in rows}) > 1:
        rows += bd_means(rows)
    for r in rows:
        vals = ["-" if r.get(k) is None else _bd_fmt(k, r[k]) for k in keys]
        lines.append(f"| {r['sequence']} | {r['reference']} vs {r['anchor']} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def _bd_fmt(k, v):
    if not k.startswith("bdq_"):
        return f"{v:+.1f} %"
    return f"{v:+.4f}" if "ssim" in k else f"{v:+.2f}"


HEADLINE_RATE = (("ms_ssim", "MS-SSIM"), ("ms_ssim_roi", "ROI MS-SSIM"), ("ms_ssim_fov", "fov. MS-SSIM"),
                 ("psnr_fov", "fov. PSNR"), ("fvvdp_jod", "FovVideoVDP"))
HEADLINE_QUALITY = (("bdq_ms_ssim", "ΔMS-SSIM"), ("bdq_ms_ssim_roi", "ΔROI MS-SSIM"),
                    ("bdq_ms_ssim_fov", "Δfov. MS-SSIM"), ("bdq_psnr_fov", "Δfov. PSNR dB"),
                    ("bdq_fvvdp_jod", "ΔJOD"))


def headline(results) -> list:
    """One row per anchor: the reference's BD-rate (%) and BD-quality vs that anchor on the headline
    metrics, averaged over the sequences where the value exists (``count``: how many), and the verdict
    per metric (``lose``/``win``/None): BD-rate > 0 (or, where the quality ranges do not overlap,
    BD-quality < 0) is a loss."""
    rows = results.get("bdrate", [])
    nseq = len({r["sequence"] for r in rows})
    out = []
    for m in bd_means(rows):
        row = {"reference": m["reference"], "anchor": m["anchor"], "sequences": nseq, "values": {}, "count": {},
               "verdict": {}}
        for k, _ in HEADLINE_RATE + HEADLINE_QUALITY:
            row["values"][k], row["count"][k] = m.get(k), m["count"].get(k, 0)
        for k, _ in HEADLINE_RATE:
            r, q = m.get(k), m.get("bdq_" + k)
            v = ("lose" if r > 0 else "win") if r is not None else (None if q is None else ("lose" if q < 0 else "win"))
            row["verdict"][k] = v
        out.append(row)
    return out


def headline_markdown(results, *, verdicts=True) -> str:
    """The headline table (reference vs every anchor, BD-rate and BD-quality on whole-frame, ROI and
    foveated metrics, means over sequences) and a plain list of where the reference loses."""
    rows = headline(results)
    if not rows:
        return "(no BD-rates: the reference ran alone or not at all)"
    heads = [f"BD-rate {h}" for _, h in HEADLINE_RATE] + [h for _, h in HEADLINE_QUALITY]
    lines = ["| " + rows[0]["reference"] + " vs | " + " | ".join(heads) + " |", "|" + "---|" * (len(heads) + 1)]
    for r in rows:
        cells = []
        for k, _ in HEADLINE_RATE + HEADLINE_QUALITY:
            v, c = r["values"][k], r["count"][k]
            cell = "-" if v is None else _bd_fmt(k, v)
            if v is not None and c < r["sequences"]:
                cell += f" ({c}/{r['sequences']})"
            cells.append(cell)
        lines.append(f"| {r['anchor']} | " + " | ".join(cells) + " |")
    lines += ["", f"Means over {rows[0]['sequences']} sequence(s); (k/n): only k sequences had overlapping curves "
              "for that value. BD-rate: extra bits the reference needs for the same quality (positive = it loses); "
              "Δ: its quality difference at the same rate (negative = it loses).", ""]
    names = dict(HEADLINE_RATE)
    for r in rows if verdicts else []:
        lost = [names[k] for k, v in r["verdict"].items() if v == "lose"]
        won = [names[k] for k, v in r["verdict"].items() if v == "win"]
        if not lost and not won:
            lines.append(f"- vs {r['anchor']}: no comparable values (the curves do not overlap).")
            continue
        lines.append(f"- vs {r['anchor']}: loses on {', '.join(lost) or 'nothing'}"
                     + (f"; wins on {', '.join(won)}" if won else "") + ".")
    return "\n".join(lines)


def report_markdown(results, command=None) -> str:
    """A self-contained markdown report: what ran (command, environment, skipped methods), the
    per-rate table and the BD tables."""
    env = results.get("environment", {})
    lines = [f"# Eval `{results.get('name')}`", ""]
    if command:
        lines += ["Reproduce (from the repository root):", "", "```", command, "```", ""]
    lines.append(
        f"Machine: {env.get('platform')}, {env.get('cpus')} CPUs; python {env.get('python')}, torch {env.get('torch')},"
        f" PyAV {env.get('pyav')}, pyfvvdp {env.get('pyfvvdp')}; git {env.get('git')}; {results.get('elapsed_s', 0):.0f} s."
    )
    for name, seq in results.get("sequences", {}).items():
        imp = seq.get("importance", {})
        lines.append(f"- {name}: {seq['frames']} frames {seq['width']}x{seq['height']} at {seq['fps']:g} fps "
                     f"(stride {seq.get('stride')}), importance {imp.get('type')}"
                     + (f" ({seq['importance_impl']})" if seq.get("importance_impl") else ""))
    cfg = results.get("config", {})
    rates = cfg.get("rates", {})
    if "ours" in results.get("methods", {}):
        lines.append(f"- targets: the sizes of `ours` at qualities {rates.get('qualities') or default_qualities()} "
                     f"(model {results['methods']['ours'].get('model')}, weights sha256 "
                     f"{str(results['methods']['ours'].get('weights_hash'))[:12]}…)")
    else:
        lines.append(f"- targets: bpp {rates.get('bpp', [0.05, 0.1, 0.2, 0.4])}")
    if rates.get("anchor_extra"):
        lines.append(f"- extra baseline-only targets (rows `x<factor>`): {rates['anchor_extra']} x the smallest "
                     "(factor < 1) or largest (> 1) target, so that the BD curves can overlap in quality")
    if cfg.get("subset"):
        lines.append(f"- subset of the config's sequences: {', '.join(cfg['subset']['sequences'])}")
    for m, why in results.get("skipped", {}).items():
        lines.append(f"- skipped {m}: {why}")
    ref = {r["reference"] for r in results.get("bdrate", [])}
    lines += ["", f"## Headline: {', '.join(sorted(ref)) or 'reference'} vs each method", "", headline_markdown(results)]
    lines += ["", "## Rate points (baselines matched to the targets within the tolerance)", "",
              summary_table(results), "", "## BD-rate / BD-quality", "",
              "BD-rate: bitrate change of the reference vs the anchor at equal quality (negative = the reference "
              "needs fewer bits); BD-x: quality difference at equal rate (positive = the reference is better); "
              "'-' = the curves do not overlap.", "", bd_markdown(results), ""]
    return "\n".join(lines)


def write_bench(results, bench_dir, command=None):
    """Copy the small outputs (summary.json/csv, bdrate.csv) and a README.md report into bench_dir."""
    os.makedirs(bench_dir, exist_ok=True)
    if command:
        results = {**results, "command": command}
    write_outputs(results, bench_dir)
    os.remove(os.path.join(bench_dir, "results.json"))  # per-frame lists stay in results/
    with open(os.path.join(bench_dir, "README.md"), "w") as f:
        f.write(report_markdown(results, command))
