"""What an eval run's results become: BD-rate / BD-quality tables, the headline, markdown reports and
the output files (results.json, summary.json/csv, bdrate.csv, a benchmark folder's README)."""
from __future__ import annotations

import csv
import json
import math
import os

import numpy as np

from . import realism_report as RR
from .bdrate import BDRateError, bd_quality, bd_rate
from .config import default_qualities

__all__ = ["BD_METRICS", "BDQ_METRICS", "CSV_KEYS", "HEADLINE_RATE", "HEADLINE_QUALITY", "bd_table", "bd_means",
           "bd_markdown", "summary_table", "headline", "headline_markdown", "report_markdown", "write_outputs",
           "write_bench"]

BD_METRICS = ("ms_ssim", "ms_ssim_roi", "ms_ssim_fov", "psnr", "psnr_roi", "psnr_fov", "fvvdp_jod")
# BD-quality (dB / MS-SSIM / JOD at equal rate): defined whenever the rate ranges overlap, which matching
# guarantees, while BD-rate needs overlapping quality ranges
BDQ_METRICS = ("psnr", "psnr_roi", "psnr_fov", "ms_ssim", "ms_ssim_roi", "ms_ssim_fov", "fvvdp_jod")
CSV_KEYS = ("sequence", "method", "target", "param", "bytes", "bpp", "rel_error", "matched", "psnr", "psnr_roi",
            "psnr_bg", "psnr_fov", "ms_ssim", "ms_ssim_roi", "ms_ssim_bg", "ms_ssim_fov", "flicker_bg_rmse",
            "flicker_bg_ratio", "fvvdp_jod", "encode_s") + RR.CSV_KEYS


BD_CONVENTION = ("BD-rates per sequence (pchip), then averaged over sequences (never on a mean curve); "
                 "MS-SSIM BD-rates on MS-SSIM in dB, −10·log10(1 − MS-SSIM); BD-quality of MS-SSIM linear")


def ssim_db(v: float) -> float:
    """MS-SSIM in dB, −10·log10(1 − MS-SSIM) (the scale the field computes MS-SSIM BD-rates on)."""
    return -10.0 * math.log10(max(1e-12, 1.0 - float(v)))


def bd_table(entries, sequence, reference) -> list:
    """BD-rate of ``reference`` vs every other method of a sequence on BD_METRICS (percent; negative:
    the reference needs fewer bits than that method for the same quality; MS-SSIM in dB, BD_CONVENTION)
    and BD-quality on BDQ_METRICS (``bdq_<metric>``: dB, linear MS-SSIM or JOD; positive: the reference is
    better at the same rate)."""
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
                if "ms_ssim" in k:
                    row[k] = bd_rate(ra, [ssim_db(v) for v in qa], rb, [ssim_db(v) for v in qb])
                else:
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
    return "\n".join(lines + ["", BD_CONVENTION + "."])


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
    lines += ["", "## Rate–distortion–realism per region (rac_video.eval.realism)", "", RR.realism_markdown(results)]
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
