"""Rate–distortion–realism per region in eval runs: the realism metrics of every entry
(``rac_video.eval.realism``), their table, and the issue-25 checks at matched bytes.

The harness (``rac_video.eval.run``) calls ``sequence_realism`` for each decoded sequence and stores the
flat keys in the entry's metrics; ``realism_markdown`` renders them per sequence and rate, and
``realism_checks`` compares, at each of our rate points, our realism mode with x264-roi (background SWD,
same bytes), with our fidelity mode (ROI PSNR, same bitstream) and the block colour error bound.
"""
from __future__ import annotations

from . import realism as RM

CSV_KEYS = ("swd_roi", "swd_bg", "swd_all", "hf_ratio_roi", "hf_ratio_bg", "block_colour_max_all",
            "block_colour_mean_all", "block_colour_max_bg")
TABLE_KEYS = (("bpp", "bpp", 4), ("psnr_roi", "PSNR roi", 2), ("psnr_bg", "PSNR bg", 2), ("swd_roi", "SWD roi", 3),
              ("swd_bg", "SWD bg", 3), ("hf_ratio_roi", "HF roi", 2), ("hf_ratio_bg", "HF bg", 2),
              ("block_colour_max_all", "colour max", 1), ("block_colour_mean_all", "colour mean", 2))
COLOUR_BOUND = 2.0      # 8-bit levels in every 64×64 block (issue 25)
ROI_PSNR_SLACK = 0.3    # dB: the realism mode's ROI PSNR within this of the fidelity mode's


def sequence_realism(src, rec, importance=None, threshold=0.5) -> dict:
    """Flat realism metrics of one decoded sequence (``realism.FLAT_KEYS``); without a map, the whole
    frame is the ROI."""
    return RM.flat_metrics(RM.region_report(src, rec, importance, threshold))


def _fmt(v, nd):
    return "-" if v is None else f"{v:.{nd}f}"


def realism_markdown(results) -> str:
    """One table per sequence: every method and rate with bpp, PSNR and the realism metrics per region
    (SWD: lower = closer patch statistics; HF: reconstruction/source high-frequency energy, 1 = as much
    detail; colour: 64×64-block mean colour error in 8-bit levels)."""
    entries = [e for e in results.get("entries", []) if e["metrics"].get("swd_all") is not None]
    if not entries:
        return "(no realism metrics in this run)"
    lines = []
    for seq in dict.fromkeys(e["sequence"] for e in entries):
        lines += [f"**{seq}**", "", "| method | target | " + " | ".join(h for _, h, _ in TABLE_KEYS) + " |",
                  "|" + "---|" * (len(TABLE_KEYS) + 2)]
        rows = sorted((e for e in entries if e["sequence"] == seq), key=lambda e: (e["target"], e["method"]))
        for e in rows:
            m = e["metrics"]
            lines.append(f"| {e['method']} | {e['target']} | "
                         + " | ".join(_fmt(m.get(k), nd) for k, _, nd in TABLE_KEYS) + " |")
        lines.append("")
    lines += ["", "\n".join(f"- {c['text']}" for c in realism_checks(results)) or "- (no checks: run ours-realism, "
              "ours and x264-roi together)"]
    return "\n".join(lines)


def realism_checks(results, realism_method="ours-realism", fidelity_method="ours", anchor="x264-roi") -> list:
    """Per sequence and our rate point: background SWD of ``realism_method`` vs ``anchor`` at the same
    target (matched bytes), its ROI PSNR vs ``fidelity_method`` (same bitstream), and the largest block
    colour error of each of our modes vs COLOUR_BOUND. Rows: {"sequence", "target", "check", "ok",
    "values", "text"}."""
    by, matched = {}, {}
    for e in results.get("entries", []):
        by[(e["sequence"], e["target"], e["method"])] = e["metrics"]
        matched[(e["sequence"], e["target"], e["method"])] = (e.get("matched"), e.get("rel_error"))
    out = []
    keys = sorted({(s, t) for s, t, m in by if m == realism_method or m == fidelity_method})
    for seq, tgt in keys:
        real, fid, anc = (by.get((seq, tgt, m)) for m in (realism_method, fidelity_method, anchor))
        if real and anc and real.get("swd_bg") is not None and anc.get("swd_bg") is not None:
            ok = real["swd_bg"] <= anc["swd_bg"]
            m, rel = matched.get((seq, tgt, anchor), (None, None))
            note = "" if m or rel is None else f" ({anchor} not matched: {rel:+.0%} bytes, its range ends there)"
            out.append({"sequence": seq, "target": tgt, "check": "swd_bg", "ok": ok, "matched": bool(m),
                        "values": [real["swd_bg"], anc["swd_bg"]],
                        "text": f"{seq} {tgt}: background SWD {realism_method} {real['swd_bg']:.3f} vs {anchor} "
                                f"{anc['swd_bg']:.3f} at {real['bpp']:.4f} / {anc['bpp']:.4f} bpp: "
                                + ("met" if ok else "missed") + note})
        if real and fid and real.get("psnr_roi") is not None and fid.get("psnr_roi") is not None:
            d = real["psnr_roi"] - fid["psnr_roi"]
            ok = d >= -ROI_PSNR_SLACK
            out.append({"sequence": seq, "target": tgt, "check": "psnr_roi", "ok": ok, "values": [d],
                        "text": f"{seq} {tgt}: ROI PSNR {realism_method} − {fidelity_method} = {d:+.2f} dB "
                                f"(bound −{ROI_PSNR_SLACK}): " + ("met" if ok else "missed")})
        for name, m in ((realism_method, real), (fidelity_method, fid)):
            if m and m.get("block_colour_max_all") is not None:
                v = m["block_colour_max_all"]
                ok = v <= COLOUR_BOUND
                out.append({"sequence": seq, "target": tgt, "check": f"colour {name}", "ok": ok, "values": [v],
                            "text": f"{seq} {tgt}: largest 64×64 block colour error of {name} {v:.1f} levels "
                                    f"(bound {COLOUR_BOUND:g}): " + ("met" if ok else "missed")})
    return out
