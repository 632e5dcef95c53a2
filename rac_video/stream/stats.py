"""Latency instrumentation: per-frame records, per-stage and end-to-end statistics, gaze-to-display
latency, bitrate over time, frame accounting; JSON + CSV + plot.

All timestamps are seconds on the host's monotonic clock (``time.monotonic``, CLOCK_MONOTONIC on
Linux: one clock for every process of the machine), so server and client stamps compare directly on
loopback. Across machines they would need clock synchronisation.
"""
from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass, fields

import numpy as np

__all__ = ["FrameRecord", "StreamStats", "STAGES", "describe"]

# (name, from field, to field)
STAGES = [
    ("capture_to_map", "capture", "map_built"),
    ("encode_queue", "map_built", "encode_start"),
    ("encode", "encode_start", "encode_end"),
    ("send_queue", "encode_end", "send"),
    ("network_emulation", "send", "wire"),
    ("transport", "wire", "receive"),
    ("decode_queue", "receive", "decode_start"),
    ("decode", "decode_start", "decode_end"),
    ("display", "decode_end", "display"),
    ("end_to_end", "capture", "display"),
]
NAN = float("nan")


@dataclass
class FrameRecord:
    index: int
    quality: int
    nbytes: int            # whole frame message on the wire
    side_bytes: int
    gaze_seq: int
    capture: float
    map_built: float
    encode_start: float
    encode_end: float
    send: float
    wire: float
    gaze_arrival: float
    gaze_client: float
    receive: float
    decode_start: float = NAN
    decode_end: float = NAN
    display: float = NAN
    status: str = "received"   # received | displayed | late | superseded | corrupt | decode_error


def describe(values) -> dict:
    a = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=np.float64)
    if a.size == 0:
        return {"n": 0, "median": None, "p95": None, "max": None}
    return {"n": int(a.size), "median": round(float(np.median(a)), 3),
            "p95": round(float(np.percentile(a, 95)), 3), "max": round(float(a.max()), 3)}


class StreamStats:
    """Client-side collection of one run (across reconnects)."""

    def __init__(self):
        self.frames: list[FrameRecord] = []
        self.counts = Counter()
        self.gaze_to_display: list[float] = []       # server arrival of the sample -> display (s)
        self.gaze_sent_to_display: list[float] = []  # client send of the sample -> display (s)
        self._last_gaze_seq = -1

    def add(self, rec: FrameRecord):
        self.frames.append(rec)

    def displayed(self, rec: FrameRecord, t: float):
        """Mark ``rec`` displayed at ``t``; the first displayed frame built from a newer gaze sample
        gives one gaze-to-display sample."""
        rec.display, rec.status = t, "displayed"
        self.counts["displayed"] += 1
        if rec.gaze_seq > self._last_gaze_seq:
            self._last_gaze_seq = rec.gaze_seq
            if math.isfinite(rec.gaze_arrival):
                self.gaze_to_display.append(t - rec.gaze_arrival)
            if math.isfinite(rec.gaze_client):
                self.gaze_sent_to_display.append(t - rec.gaze_client)

    def new_session(self):
        self._last_gaze_seq = -1

    # ------------------------------------------------------------------ summaries
    def latency_ms(self) -> dict:
        out = {}
        shown = [r for r in self.frames if r.status == "displayed"]
        for name, a, b in STAGES:
            out[name] = describe([(getattr(r, b) - getattr(r, a)) * 1e3 for r in shown])
        return out

    def continuity(self, rtt_s: float) -> dict:
        """Of the frames that reached the client (network losses and server drops have no record), how many
        were shown without a stall longer than one round trip: displayed with an end-to-end latency at most
        the median's plus ``rtt_s``. A frame that arrived but was not shown (undecodable — e.g. its reference
        was lost —, late or superseded) counts as stalled: this is the issue's "no stall longer than one
        round trip beyond the lost ones"."""
        arrived = list(self.frames)
        lat = [r.display - r.capture for r in arrived if r.status == "displayed"]
        if not arrived or not lat:
            return {"arrived": len(arrived), "on_time": 0, "share": 0.0, "median_ms": None, "rtt_ms": 1e3 * rtt_s}
        limit = float(np.median(lat)) + float(rtt_s)
        ok = sum(1 for r in arrived if r.status == "displayed" and r.display - r.capture <= limit)
        return {"arrived": len(arrived), "on_time": ok, "share": ok / len(arrived),
                "median_ms": round(1e3 * float(np.median(lat)), 3), "rtt_ms": round(1e3 * rtt_s, 3),
                "not_shown": Counter(r.status for r in arrived if r.status != "displayed")}

    def bitrate_series(self, bin_s: float = 1.0):
        """[(t from the first receive, kbit/s)] over bins of ``bin_s`` seconds (received bytes)."""
        if not self.frames:
            return []
        t0 = min(r.receive for r in self.frames)
        t = np.array([r.receive - t0 for r in self.frames])
        b = np.array([r.nbytes for r in self.frames], dtype=np.float64)
        nb = int(t.max() // bin_s) + 1
        sums = np.bincount((t // bin_s).astype(int), weights=b, minlength=nb)
        return [(round(i * bin_s, 3), round(float(s) * 8 / bin_s / 1e3, 1)) for i, s in enumerate(sums)]

    def summary(self, meta: dict | None = None) -> dict:
        series = self.bitrate_series()
        full = series[:-1] if len(series) > 1 else series   # the last bin is partial
        fr = self.frames
        # over the capture span of the received frames (bursts at the receiver do not inflate it)
        caps = sorted(r.capture for r in fr)
        dur = (caps[-1] - caps[0]) * len(caps) / (len(caps) - 1) if len(caps) > 1 else 0.0
        return {
            **(meta or {}),
            "frames": dict(sorted(self.counts.items())),
            "latency_ms": self.latency_ms(),
            "gaze_to_display_ms": describe([v * 1e3 for v in self.gaze_to_display]),
            "gaze_sent_to_display_ms": describe([v * 1e3 for v in self.gaze_sent_to_display]),
            "bitrate_kbps": {"mean": round(sum(r.nbytes for r in fr) * 8 / dur / 1e3, 1) if dur > 0 else None,
                             "per_second": [v for _, v in full]},
            "quality": describe([r.quality for r in fr]),
            "side_info_bytes": describe([r.side_bytes for r in fr]),
        }

    # ------------------------------------------------------------------ files
    def write_csv(self, path):
        t0 = min((r.capture for r in self.frames), default=0.0)
        names = [f.name for f in fields(FrameRecord)]
        times = {"capture", "map_built", "encode_start", "encode_end", "send", "wire", "gaze_arrival",
                 "gaze_client", "receive", "decode_start", "decode_end", "display"}
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([n + ("_ms" if n in times else "") for n in names])
            for r in self.frames:
                d = asdict(r)
                w.writerow([("" if not math.isfinite(d[n]) else f"{(d[n] - t0) * 1e3:.3f}") if n in times
                            else d[n] for n in names])

    def write_json(self, path, meta=None) -> dict:
        s = self.summary(meta)
        with open(path, "w") as f:
            json.dump(s, f, indent=1)
            f.write("\n")
        return s

    def plot(self, path, title: str = ""):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fr = self.frames
        fig, (a1, a2) = plt.subplots(2, 1, figsize=(9, 6), constrained_layout=True)
        shown = [r for r in fr if r.status == "displayed"]
        if shown:
            t0 = min(r.capture for r in fr)
            x = [r.capture - t0 for r in shown]
            for name, a, b in [("end_to_end", "capture", "display"), ("encode", "encode_start", "encode_end"),
                               ("network", "send", "receive"), ("decode", "decode_start", "decode_end")]:
                a1.plot(x, [(getattr(r, b) - getattr(r, a)) * 1e3 for r in shown], lw=0.8, label=name)
            bad = [r.capture - t0 for r in fr if r.status != "displayed"]
            if bad:
                a1.plot(bad, [0] * len(bad), "rx", ms=4, label="not displayed")
        a1.set_xlabel("capture time (s)")
        a1.set_ylabel("latency (ms)")
        if shown:
            a1.legend(fontsize=7, loc="upper right")
        a1.set_title(title, fontsize=9)
        s = self.bitrate_series()
        if s:
            a2.step([t for t, _ in s], [v for _, v in s], where="post")
        a2.set_xlabel("receive time (s)")
        a2.set_ylabel("received kbit/s")
        fig.savefig(path, dpi=110)
        plt.close(fig)
