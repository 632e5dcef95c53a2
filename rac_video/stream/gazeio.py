"""Gaze on both ends of the stream.

Server: :class:`GazeInbox` keeps the newest valid sample (with its arrival time), passes frame
acknowledgements on, and counts bad and stale lines; :class:`LineSplitter` cuts the upstream bytes into lines with a hard length bound (an
over-long line is skipped up to its newline, never buffered).

Client: gaze generators for :class:`~rac_video.stream.client.StreamClient` — ``SyntheticGaze``
(seeded fixations with saccades between them and small fixational jitter) and ``TraceGaze`` (a
recorded eye-tracker trace, ``rac_video.importance.gaze.read_gaze``, replayed in real time, scaled to
the frame, looping). ``position(t)`` gives frame pixels or ``None`` (no valid sample).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import numpy as np

from .framing import MAX_GAZE_LINE, Ack, GazeSample, parse_upstream

log = logging.getLogger(__name__)

__all__ = ["GazeInbox", "LineSplitter", "SyntheticGaze", "TraceGaze", "open_gaze"]


@dataclass
class Received:
    sample: GazeSample
    arrival: float


class GazeInbox:
    """Newest gaze sample of one session. Written by the network task, read by the encoder thread
    (a single attribute swap, so no lock is needed)."""

    def __init__(self, frame_wh, name: str = "session", on_ack=None):
        self.frame_wh = frame_wh
        self.on_ack = on_ack
        self.name = name
        self.latest: Received | None = None
        self.received = 0
        self.valid = 0   # well-formed upstream messages of any kind (hello, ack, gaze)
        self.bad = 0
        self.stale = 0

    def feed(self, line: bytes, now: float):
        try:
            s = parse_upstream(line, self.frame_wh)
        except ValueError as e:
            self.bad += 1
            if self.bad <= 5 or self.bad % 100 == 0:
                log.warning("%s: malformed gaze message #%d ignored: %s", self.name, self.bad, e)
            return
        self.valid += 1
        if not isinstance(s, (Ack, GazeSample)):  # Hello: the client's greeting (counted in ``valid``)
            return
        if isinstance(s, Ack):
            if self.on_ack is not None:
                self.on_ack(s.index, now, s.decoded)
            return
        if self.latest is not None and s.seq <= self.latest.sample.seq:
            self.stale += 1
            return
        self.received += 1
        self.latest = Received(s, now)

    def overlong(self):
        self.bad += 1
        if self.bad <= 5 or self.bad % 100 == 0:
            log.warning("%s: gaze line longer than %d bytes skipped", self.name, MAX_GAZE_LINE)


class LineSplitter:
    """Incremental newline splitter with a bound: lines longer than ``limit`` are reported as
    ``None`` once and their bytes dropped up to the next newline."""

    def __init__(self, limit: int = MAX_GAZE_LINE):
        self.limit = limit
        self._buf = bytearray()
        self._skipping = False

    def feed(self, data: bytes):
        out = []
        self._buf += data
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                if len(self._buf) > self.limit:
                    if not self._skipping:
                        out.append(None)
                    self._skipping = True
                    self._buf.clear()
                return out
            line = bytes(self._buf[:i])
            del self._buf[:i + 1]
            if self._skipping:
                self._skipping = False
                continue
            out.append(line if len(line) <= self.limit else None)


class SyntheticGaze:
    """Fixations of 200–500 ms at random points (seeded) with a jump (saccade) between them and
    Gaussian fixational jitter of ``jitter_px``."""

    def __init__(self, frame_wh, seed: int = 0, jitter_px: float = 0.5):
        self.W, self.H = frame_wh
        self.seed, self.jitter = seed, jitter_px
        rng = random.Random(seed)
        self._fix = []   # (start time, x, y)
        t = 0.0
        for _ in range(10000):
            self._fix.append((t, rng.uniform(0.1, 0.9) * self.W, rng.uniform(0.1, 0.9) * self.H))
            t += rng.uniform(0.2, 0.5)
        self._starts = np.array([f[0] for f in self._fix])
        self._period = t

    def position(self, t: float):
        t = t % self._period
        k = int(np.searchsorted(self._starts, t, side="right")) - 1
        _, x, y = self._fix[k]
        r = random.Random(hash((self.seed, int(t * 1000))))
        x = min(self.W - 0.01, max(0.0, x + r.gauss(0, self.jitter)))
        y = min(self.H - 0.01, max(0.0, y + r.gauss(0, self.jitter)))
        return x, y


class TraceGaze:
    def __init__(self, path: str, frame_wh, fmt: str = "auto"):
        from ..importance.gaze import read_gaze

        tr = read_gaze(path, fmt)
        x, y = tr.scaled(frame_wh)
        ok = tr.valid & np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 2:
            raise ValueError(f"{path}: fewer than two valid gaze samples")
        self.W, self.H = frame_wh
        self.t = np.asarray(tr.t, np.float64) - float(tr.t[0])
        self.x, self.y, self.ok = x, y, ok
        self.duration = float(self.t[-1]) + 1e-3

    def position(self, t: float):
        t = t % self.duration
        k = max(0, int(np.searchsorted(self.t, t, side="right")) - 1)
        if not self.ok[k]:
            return None
        x, y = float(self.x[k]), float(self.y[k])
        if not (0 <= x < self.W and 0 <= y < self.H):
            return None
        return x, y


def open_gaze(spec: str, frame_wh, seed: int = 0):
    """``none`` | ``synthetic`` | ``trace:PATH`` → a generator with ``position(t)`` (or None)."""
    if spec == "none":
        return None
    if spec == "synthetic":
        return SyntheticGaze(frame_wh, seed)
    if spec.startswith("trace:"):
        return TraceGaze(spec[6:], frame_wh)
    raise ValueError(f"unknown gaze source {spec!r} (none | synthetic | trace:PATH | viewer)")


