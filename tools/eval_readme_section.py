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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rac_video.eval.run import HEADLINE_RATE, headline, headline_markdown  # noqa: E402


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
             "rate (negative = we lose); means over sequences, '-' = curves do not overlap.", ""]
    losses = {}
    for d, r in runs:
        seqs = r.get("sequences", {})
        frames = sorted({s["frames"] for s in seqs.values()})
        q = r.get("config", {}).get("rates", {}).get("qualities")
        lines.append(f"**{r['name']}** ({len(seqs)} sequence(s), {'/'.join(map(str, frames))} frames each, "
                     f"qualities {q}; details: `{d}/README.md`)")
        lines += ["", headline_markdown(r, verdicts=False).split("\n\nMeans over")[0], ""]
        for h in headline(r):
            for k, v in h["verdict"].items():
                if v == "lose":
                    losses.setdefault(h["anchor"], set()).add(dict(HEADLINE_RATE)[k])
    lines.append("Reproduce (from the repository root):")
    lines += ["", "```"] + [r.get("command", "(command not recorded)") for _, r in runs] + ["```", ""]
    if losses:
        lines.append("Where we lose (on at least one of the runs above): "
                     + "; ".join(f"vs {a}: {', '.join(sorted(m))}" for a, m in losses.items()) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(section(sys.argv[1:]))
