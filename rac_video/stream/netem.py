"""In-process network emulator on the sending path (seeded, so runs are reproducible without root).

Each message handed to :meth:`NetEm.submit` at time ``now`` (seconds) with ``nbytes`` gets a delivery
time, or is lost:

1. **loss**: dropped with probability ``loss`` (Bernoulli, seeded) — the whole message (one frame);
2. **rate limit**: a FIFO link of ``rate_bps`` bits/s; the message leaves the link at
   ``max(now, link_free) + 8·nbytes/rate`` (serialisation). When the backlog ahead of it exceeds
   ``queue_s`` seconds of link time it is tail-dropped instead (a router buffer, not unbounded);
3. **delay and jitter**: plus ``delay_s`` and a uniform jitter in ``[−jitter_s, +jitter_s]`` (seeded),
   never before the previous delivery (the stream is TCP-like: in order, no reordering).

The emulator only computes times; the sender waits until the delivery time and then writes. The
random draws depend only on the seed and the order of calls (one loss draw and one jitter draw per
message), so the same sizes and times give the same schedule.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["NetEmConfig", "NetEm", "parse_netem"]


@dataclass(frozen=True)
class NetEmConfig:
    rate_bps: float = 0.0      # 0: unlimited
    delay_s: float = 0.0
    jitter_s: float = 0.0
    loss: float = 0.0
    queue_s: float = 0.2
    seed: int = 0

    def __post_init__(self):
        for k in ("rate_bps", "delay_s", "jitter_s", "queue_s"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"netem {k} must be a non-negative number, got {v!r}")
        if not (isinstance(self.loss, (int, float)) and 0.0 <= self.loss <= 1.0):
            raise ValueError(f"netem loss must be in [0, 1], got {self.loss!r}")
        if self.jitter_s > self.delay_s:
            raise ValueError(f"netem jitter ({self.jitter_s}) larger than the delay ({self.delay_s})")

    @property
    def active(self) -> bool:
        return bool(self.rate_bps or self.delay_s or self.jitter_s or self.loss)

    def describe(self) -> str:
        if not self.active:
            return "none"
        parts = []
        if self.rate_bps:
            parts.append(f"{self.rate_bps / 1e6:g} Mbit/s")
        if self.delay_s or self.jitter_s:
            parts.append(f"{self.delay_s * 1e3:g} ms ± {self.jitter_s * 1e3:g} ms")
        if self.loss:
            parts.append(f"{self.loss * 100:g} % loss")
        return ", ".join(parts) + f" (seed {self.seed})"


class NetEm:
    def __init__(self, config: NetEmConfig = NetEmConfig()):
        self.config = config
        self._rng = random.Random(config.seed)
        self._link_free = -math.inf
        self._last_delivery = -math.inf
        self.lost = 0
        self.queue_drops = 0
        self.sent = 0

    def submit(self, now: float, nbytes: int):
        """Delivery time (seconds) of a message of ``nbytes`` offered at ``now``; ``None`` when lost
        or tail-dropped (see :attr:`lost`, :attr:`queue_drops`)."""
        c = self.config
        if nbytes < 0:
            raise ValueError("nbytes must be non-negative")
        u_loss, u_jit = self._rng.random(), self._rng.random()  # always two draws: schedule is order-stable
        if c.rate_bps:
            start = max(now, self._link_free)
            if start - now > c.queue_s:
                self.queue_drops += 1
                return None
            leave = start + nbytes * 8.0 / c.rate_bps
        else:
            leave = now
        if c.loss and u_loss < c.loss:
            self.lost += 1   # lost after using the link (it was sent, then lost on the way)
            self._link_free = leave if c.rate_bps else self._link_free
            return None
        self._link_free = leave if c.rate_bps else self._link_free
        t = leave + c.delay_s + (2.0 * u_jit - 1.0) * c.jitter_s
        t = max(t, self._last_delivery)
        self._last_delivery = t
        self.sent += 1
        return t

    def backlog(self, now: float) -> float:
        """Seconds of link time still queued ahead of a message offered at ``now`` (0 without a rate
        limit) — what a sender sees as unsent bytes in its socket at a bottleneck first hop."""
        return max(0.0, self._link_free - now) if self.config.rate_bps else 0.0

    def stats(self) -> dict:
        return {"config": self.config.describe(), "sent": self.sent, "lost": self.lost,
                "queue_drops": self.queue_drops}


def parse_netem(rate_mbps=0.0, delay_ms=0.0, jitter_ms=0.0, loss_pct=0.0, queue_ms=200.0, seed=0) -> NetEmConfig:
    """Config from command-line units (Mbit/s, ms, percent)."""
    return NetEmConfig(rate_bps=float(rate_mbps) * 1e6, delay_s=float(delay_ms) / 1e3,
                       jitter_s=float(jitter_ms) / 1e3, loss=float(loss_pct) / 100.0,
                       queue_s=float(queue_ms) / 1e3, seed=int(seed))
