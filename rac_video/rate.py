"""Per-frame rate control from the model's rate estimate (issue 7 §4).

The target is a bit budget per frame, B = kbit/s · 1000 / fps. Each frame gets
B + ½·(bits still owed to the target so far), clamped to [B/4, 4B], and the controller picks the
highest quality q whose *estimated* size (entropy-model information content + side info +
packet framing) fits, by bisection over q (the estimate is monotone in q: every step size
shrinks). If even q = 0 does not fit, q = 0 is used and the debt carries to later frames. The
actual sizes feed back through :meth:`RateController.update`, so estimate errors are corrected
over time.

One controller for files and streams (both code through ``pipeline.FrameEncoder``). A stream that
skips a frame because its link is backed up calls :meth:`RateController.congested`, which charges
one frame's budget as debt (at most two frames' worth in all), so the following frames get less.
"""
from __future__ import annotations

from fractions import Fraction

from . import schedule

__all__ = ["RateController"]


class RateController:
    def __init__(self, target_kbps: float, fps, *, q_range=(0, schedule.Q_MAX), feedback: float = 0.5):
        if not float(target_kbps) > 0:
            raise ValueError(f"target bitrate must be positive, got {target_kbps!r}")
        fps = float(Fraction(fps))
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps!r}")
        self.per_frame = float(target_kbps) * 1000.0 / fps
        self.lo, self.hi = int(q_range[0]), int(q_range[1])
        self.feedback = float(feedback)
        self.frames, self.spent = 0, 0.0

    def budget(self) -> float:
        owed = self.per_frame * self.frames - self.spent
        return min(4 * self.per_frame, max(0.25 * self.per_frame, self.per_frame + self.feedback * owed))

    def choose(self, bits_of_q) -> tuple[int, float]:
        """(q, estimated bits at q) for the next frame; ``bits_of_q(q)`` is the frame's size estimate."""
        budget = self.budget()
        lo, hi = self.lo, self.hi
        cache = {}

        def est(q):
            if q not in cache:
                cache[q] = float(bits_of_q(q))
            return cache[q]

        if est(lo) > budget:
            return lo, est(lo)
        while lo < hi:                       # invariant: est(lo) <= budget
            mid = (lo + hi + 1) // 2
            if est(mid) <= budget:
                lo = mid
            else:
                hi = mid - 1
        return lo, est(lo)

    def congested(self) -> None:
        """The link is backed up (a frame was skipped): one frame's budget more debt, but the debt
        this adds never goes past two frames' budgets (beyond that the budget is at its floor anyway,
        and more debt would only delay the recovery)."""
        room = self.per_frame * self.frames - self.spent + 2 * self.per_frame
        if room > 0:
            self.spent += min(self.per_frame, room)

    def update(self, actual_bits: float) -> None:
        self.frames += 1
        self.spent += float(actual_bits)
