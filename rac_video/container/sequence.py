"""Which frames a stream declares, and which of them a reader could not deliver.

A ``.racv`` stream numbers its frames from 0 (``Packet.index``); the packets, the index trailer (when
the header promised one) and the stream id (format 2.0) together say which frames exist.
:class:`FramePlan` walks a :class:`~rac_video.container.Reader` and yields ``(frame, packet)`` for
every declared frame in order, with ``packet=None`` for a frame that was lost (damaged, missing from
a gap in the indices, cut at the start or the end, or a packet of another stream). Consumers
(``decode``, ``info``) replace or count those, so the output keeps the stream's length and timing, and
the list of what was lost is exact.

Bounds: a gap in the frame indices wider than ``max_gap`` (:data:`MAX_FRAME_GAP`) is not filled
— with ``skip_damaged`` the packet after it is dropped and reported (``"index jump"``), otherwise it is
a :class:`ContainerError` — so a tiny file cannot make a decoder emit millions of repeated frames.
"""
from __future__ import annotations

from .format import HEADER_HAS_INDEX, MAX_FRAME_GAP, ContainerError, CorruptPacketError

__all__ = ["FramePlan", "MAX_FRAME_GAP"]


class FramePlan:
    """``for frame, packet in FramePlan(reader): ...`` (see the module doc).

    After the loop: ``skipped`` is the list of ``{"frame": i, "reason": ...}`` (in frame order as met),
    ``end_lost`` is True when frames after the last one delivered may be lost and their number is not
    known (a truncated stream whose index trailer is missing or damaged), ``frames`` the number of
    frames yielded, ``errors`` the reader's messages. ``damaged`` is True when anything was lost."""

    def __init__(self, reader, *, max_gap: int = MAX_FRAME_GAP):
        self.reader, self.max_gap = reader, int(max_gap)
        self.skip = bool(reader.skip_damaged)
        self.skipped: list[dict] = []
        self.end_lost = False
        self.frames = 0
        self._expect = 0
        self._seen = -1  # highest packet index met (delivered or dropped as a jump)

    @property
    def errors(self) -> list[str]:
        return list(self.reader.errors)

    @property
    def damaged(self) -> bool:
        return bool(self.skipped or self.end_lost or self.reader.errors or self.reader.truncated)

    def mark(self, frame: int, reason: str) -> None:
        """Record that the consumer could not use frame ``frame`` (e.g. its payload did not decode)."""
        self.skipped.append({"frame": int(frame), "reason": reason})

    def _lost(self, lo: int, hi: int, where: str):
        """Yield the frames lo..hi-1 as lost."""
        dam = set(self.reader.damaged)
        for i in range(lo, hi):
            self.skipped.append({"frame": i, "reason": "damaged" if i in dam else where})
            self.frames += 1
            yield i, None

    def __iter__(self):
        r = self.reader
        for pkt in r:
            self._seen = max(self._seen, pkt.index)
            gap = pkt.index - self._expect
            if gap > self.max_gap:
                msg = (f"{r.name}: frame index jumps from {self._expect - 1} to {pkt.index} ({gap} frames missing, "
                       f"more than the {self.max_gap} a decoder replaces): damaged or not one stream")
                if not self.skip:
                    raise CorruptPacketError(msg, pkt.index)
                self.skipped.append({"frame": int(pkt.index), "reason": "index jump"})
                if msg not in r.errors:
                    r.errors.append(msg)
                continue
            if gap > 0:
                where = "missing at the start" if self._expect == 0 else "missing"
                if not self.skip:
                    raise CorruptPacketError(f"{r.name}: frames {self._expect}..{pkt.index - 1} are missing "
                                             f"({where.replace('missing', 'lost')}; --skip-damaged replaces "
                                             "them)", self._expect)
                yield from self._lost(self._expect, pkt.index, where)
            self._expect = pkt.index + 1
            self.frames += 1
            yield pkt.index, pkt
        # the end: frames the intact index trailer lists after the last packet read were lost
        entries = r._entries if r.has_index else None
        tail = [e[0] for e in entries if e[0] > self._seen] if entries else []
        if tail:
            if not self.skip:
                raise CorruptPacketError(f"{r.name}: frames {tail[0]}..{tail[-1]} listed in the index are "
                                         "missing at the end", tail[0])
            if tail[-1] + 1 - self._expect > self.max_gap:  # not filled (bounded work): reported as a cut
                self.end_lost = True
            else:
                yield from self._lost(self._expect, tail[-1] + 1, "missing at the end")
                self._expect = tail[-1] + 1
        elif r.truncated or (r.header.flags & HEADER_HAS_INDEX and not r.trailer_ok):
            # the stream was cut (or its trailer is damaged): frames after the last one may be gone
            if not self.skip and not r.truncated:
                raise ContainerError(f"{r.name}: the index trailer is damaged; the end of the stream is unknown")
            self.end_lost = True
