"""Print the README's evaluation section (markdown) from committed eval summaries.

    python tools/eval_readme_section.py benchmarks/eval/basketballpass_gaze benchmarks/eval/davis_masks \
        > benchmarks/eval/README_SECTION.md

Every number comes from the summaries' BD tables (``summary.json`` written by ``rac-video eval --bench``);
nothing is typed by hand.
"""
from __future__ import annotations

import json
import os
import sys


from rac_video.eval.results import HEADLINE_RATE, headline, headline_markdown  # noqa: E402


def section(bench_dirs) -> str:
    runs = []
    for d in bench_dirs:
        with open(os.path.join(d, "summary.json")) as f:
            runs.append((d, json.load(f)))
    ours = next((r["methods"]["ours"] for _, r in runs if "ours" in r.get("methods", {})), None)
    model = f"`{ours['model']}` (sha256 {ours['weights_hash'][:12]}…)" if ours else "(our codec did not run)"
    lines = ["## Evaluation: our codec vs classical codecs at matched bitrate", "",
             f"Model {model}, every baseline matched to our total .racv size (±2 %) at each rate. BD-rate: extra "
             "bits we need for the same quality (**positive = we lose**); Δ: our quality difference at the same "
             "rate (negative = we lose); means over sequences; '-' = the curves do not overlap"
             + (" (in every such case here the other method's worst point beats our best one)" if _all_above(runs)
                else "") + ".", ""]
    losses, wins = {}, []
    best = []
    for d, r in runs:
        seqs = r.get("sequences", {})
        frames = sorted({s["frames"] for s in seqs.values()})
        strides = sorted({s.get("stride") for s in seqs.values()})
        rates = r.get("config", {}).get("rates", {})
        extra = rates.get("anchor_extra")
        lines.append(f"**{r['name']}** ({len(seqs)} sequence(s), {'/'.join(map(str, frames))} frames each at stride "
                     f"{'/'.join(map(str, strides))}, our qualities {rates.get('qualities')}"
                     + (f", baselines also at {'/'.join(f'{x:g}' for x in extra)}x our smallest size" if extra else "")
                     + f"; details: `{d}/README.md`)")
        top = [e for e in r["entries"] if e["method"] == "ours"]
        if top:
            qmax = max(e["param"] for e in top)
            at = [e["metrics"] for e in top if e["param"] == qmax]
            best.append(f"{r['name']}: {sum(m['bpp'] for m in at) / len(at):.2f} bpp, PSNR "
                        f"{sum(m['psnr'] for m in at) / len(at):.1f} dB, MS-SSIM {sum(m['ms_ssim'] for m in at) / len(at):.3f}")
        lines += ["", headline_markdown(r, verdicts=False).split("\n\nMeans over")[0], ""]
        for h in headline(r):
            for k, v in h["verdict"].items():
                if v == "lose":
                    losses.setdefault(h["anchor"], set()).add(dict(HEADLINE_RATE)[k])
                elif v == "win":
                    wins.append(f"vs {h['anchor']} on {dict(HEADLINE_RATE)[k]} ({r['name']})")
    lines.append("Reproduce (from the repository root):")
    lines += ["```"] + [r.get("command", "(command not recorded)") for _, r in runs] + ["```"]
    if losses:
        every = [a for a, m in losses.items() if len(m) == len(HEADLINE_RATE)]
        some = [f"vs {a} on {', '.join(sorted(m))}" for a, m in losses.items() if a not in every]
        parts = ([f"vs {', '.join(every)} on all {len(HEADLINE_RATE)} headline metrics"] if every else []) + some
        lines.append("**Where we lose**: " + "; ".join(parts) + ". **Where we win**: "
                     + ("; ".join(wins) if wins else "nowhere") + ".")
    rec = _weights_record(ours["model"]) if ours else None
    if rec:
        mins = sum(v.get("seconds", 0) for v in rec.get("stages", {}).values()) / 60
        ae = rec.get("stages", {}).get("stage0", {}).get("final", {}).get("psnr")
        lines.append(f"- `{rec['name']}` is tiny ({rec.get('parameters', 0) / 1e6:.2f} M parameters) and was trained "
                     f"{mins:.0f} min on 2 CPU cores" + (f"; its autoencoder reached only {ae:.1f} dB PSNR in training, "
                                                           "a ceiling on every metric" if ae else "") + ".")
    lines += [("- At our top quality (mean over sequences): " + "; ".join(best) + ". " if best else "- ")
              + "Our codec is intra-only (every frame coded alone): `x264-intra(-roi)` is the like-for-like "
              "baseline; x264/x265/SVT-AV1 use a normal GOP with motion compensation.",
              "- Subsampled frames and rate points (above) to fit a 2-core CPU budget; BD values over 3-6 points per "
              "curve; '(k/n)': the mean covers only the k sequences where the curves overlap."]
    miss = {}
    for _, r in runs:
        for e in r["entries"]:
            if e["method"] in ("ours", "ours-uniform"):
                continue
            m = miss.setdefault(e["method"], [0, 0, 0.0])
            m[1] += 1
            if e.get("matched") is False:
                m[0] += 1
                m[2] = max(m[2], abs(e.get("rel_error") or 0.0))
    if any(v[0] for v in miss.values()):
        lines.append("- Baseline points off the target by more than the tolerance (kept, flagged `matched = no`): "
                     + ", ".join(f"{k} {v[0]}/{v[1]} (max {v[2]:.1%})" for k, v in miss.items() if v[0])
                     + "; the large ones are the extra low-rate points below a codec's smallest size.")
    return "\n".join(lines) + "\n"


def _all_above(runs) -> bool:
    """True when every missing headline BD-rate comes from an anchor whose worst point is better than the
    reference's best on that metric (so '-' means 'far better than us', not 'curves cross nowhere')."""
    for _, r in runs:
        by = {}
        for e in r["entries"]:
            by.setdefault((e["sequence"], e["method"]), []).append(e["metrics"])
        for row in r["bdrate"]:
            for k, _ in HEADLINE_RATE:
                if row.get(k) is None:
                    ours = [m[k] for m in by[(row["sequence"], row["reference"])]]
                    other = [m[k] for m in by[(row["sequence"], row["anchor"])]]
                    if None in ours + other or not min(other) > max(ours):
                        return False
    return True


def _weights_record(name):
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rac_video", "weights",
                        f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


if __name__ == "__main__":
    sys.stdout.write(section(sys.argv[1:]))
