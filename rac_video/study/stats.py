"""Summaries of 2-AFC answers: preference shares with Wilson score intervals and exact binomial tests.

scipy is not a dependency, so the formulas are written out: the Wilson interval (Wilson 1927;
Brown, Cai & DasGupta 2001 recommend it over the Wald interval for small n) and the two-sided exact
binomial test against p = 0.5 (the sum of the probabilities of all outcomes no more likely than the one
observed).
"""
from __future__ import annotations

import csv
import math
from statistics import NormalDist

CSV_FIELDS = ("time_utc", "participant", "session", "trial", "item", "kind", "left_method", "right_method",
              "choice", "chosen_method", "left_bytes", "right_bytes", "response_ms", "gaze_mode", "gaze_inside_share",
              "gaze_samples")


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n (n > 0)."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    # exact ends at k = 0 and k = n (the formula gives them up to rounding)
    return (0.0 if k == 0 else max(0.0, centre - half)), (1.0 if k == n else min(1.0, centre + half))


def binomial_test(k: int, n: int, p: float = 0.5) -> float:
    """Two-sided exact binomial test of k successes in n trials against probability p."""
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    pmf = [math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(n + 1)]
    obs = pmf[k] * (1 + 1e-7)
    return min(1.0, sum(v for v in pmf if v <= obs))


def read_answers(path) -> list:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"chosen_method", "left_method", "right_method"} <= set(rows[0]):
        raise ValueError(f"{path}: not a study answers file (no chosen_method column)")
    return rows


def summarize(rows, confidence: float = 0.95) -> dict:
    """Per pair of methods (in sorted order A < B): n answers, k preferring A, share, Wilson interval,
    exact two-sided p-value; also per item and per participant. Rows: dicts as the study writes them."""
    def block(sel, a):
        n = len(sel)
        k = sum(1 for r in sel if r["chosen_method"] == a)
        if n == 0:
            return {"n": 0}
        lo, hi = wilson_interval(k, n, confidence)
        return {"n": n, "k": k, "share": k / n, "ci": [lo, hi], "p_value": binomial_test(k, n)}

    out = {"confidence": confidence, "answers": len(rows), "comparisons": []}
    pairs = {}
    for r in rows:
        pairs.setdefault(tuple(sorted((r["left_method"], r["right_method"]))), []).append(r)
    for (a, b), sel in sorted(pairs.items()):
        comp = {"a": a, "b": b, **block(sel, a), "per_item": {}, "per_participant": {},
                "left_chosen": sum(1 for r in sel if r["choice"] == "left") / len(sel)}
        for key, field in (("per_item", "item"), ("per_participant", "participant")):
            groups = {}
            for r in sel:
                groups.setdefault(r[field], []).append(r)
            comp[key] = {g: block(v, a) for g, v in sorted(groups.items())}
        out["comparisons"].append(comp)
    return out


def summary_text(summary: dict) -> str:
    lines = [f"{summary['answers']} answers"]
    c = summary["confidence"]
    for comp in summary["comparisons"]:
        lines.append(f"{comp['a']} preferred over {comp['b']}: {comp['k']}/{comp['n']} = {comp['share']:.1%} "
                     f"({c:.0%} Wilson CI {comp['ci'][0]:.1%}–{comp['ci'][1]:.1%}; exact binomial p = "
                     f"{comp['p_value']:.3g}; left side chosen {comp['left_chosen']:.0%})")
        for g, v in comp["per_item"].items():
            lines.append(f"  {g}: {v['k']}/{v['n']} ({v['ci'][0]:.0%}–{v['ci'][1]:.0%})")
    return "\n".join(lines)
