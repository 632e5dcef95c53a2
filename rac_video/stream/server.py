"""Encoder server: one session per connected client (each viewer has its own gaze, so its own maps).

Per session, on an asyncio loop with the encoder in its own worker thread::

    capture (real time) ─mailbox(1)─▶ map + encode (thread) ─▶ netem ─in-flight─▶ socket
         ▲ gaze lines ◀──────────────────────────────────────────────────────────── client

* capture paces frames at the source rate; when it wakes more than a frame late it skips ahead
  (``capture_late``); a frame still waiting when the next arrives is replaced (``encoder_behind``):
  latency never builds up in front of the encoder. With ``realtime`` off, capture instead waits for
  the encoder to take each frame, so every frame is coded however slow the machine (tests, codec
  benchmarks);
* frames are coded by :class:`rac_video.pipeline.FrameEncoder`, the per-frame path of ``rac-video
  encode``: the stream header is the file header (plus the stream's ``codec``, ``standin`` and
  ``side_info`` settings) and every packet has the bytes a ``.racv`` file would hold for the same
  frame, side info and settings;
* the map is built from the newest gaze sample (``GazeFilter``: smoothing, saccade jumps, optional
  prediction by ``predict_ms``) and sent as parametric side info (``FoveatedGaze``), from which both
  ends regenerate the same integer levels;
* a target bitrate picks the quality per frame (:class:`rac_video.rate.RateController`, as for files);
* a frame is skipped before encoding when the (emulated) link still has more than ``max_backlog_ms``
  queued (``link_busy``; with a bitrate target the next frames get a smaller budget), so a link slower
  than the stream costs frames, not latency;
* with ``window`` > 0, at most that many frames are in flight (handed to the link, not yet
  acknowledged by the client as shown or skipped); further frames are skipped before encoding
  (``client_behind``), so a slow decoder does not make the server encode frames that would only be
  superseded. Acks are cumulative; when the oldest frame in flight has waited longer than the
  acknowledgement timeout the window reopens. The timeout follows the measured round trip (send →
  ack, TCP's RTO rule: smoothed RTT + 4 × its mean deviation, clamped to [``min_ack_timeout_s``,
  ``ack_timeout_s``]; ``ack_timeout_s`` until the first ack), so a lost frame costs about one round
  trip, not a fixed second;
* with ``gop`` > 1 (a model with a temporal prior, constant quality) frames are P-frames predicted
  from the newest frame the client reported decoded in its acknowledgements (``{"ack": i, "dec": j}``),
  intra until the first such report, every ``gop`` frames, and where prediction does not pay. A lost
  packet then costs that frame and the frames sent before the server heard of it — about one round
  trip — never a wait for the next intra frame; both ends keep ``pipeline.STREAM_REFERENCES`` states;
* a connection that sends no valid upstream line (the client's greeting) within
  ``handshake_timeout_s`` is closed; beyond ``max_clients`` a connection is refused with an END
  message saying why, so idle sockets cannot lock real clients out for long;
* frames pass the seeded network emulator, wait for their delivery time and are written without
  awaiting the socket; when the socket's send buffer holds more than ``max_send_buffer`` bytes (a
  stalled reader) frames are dropped (``stalled_reader``) instead of queued;
* malformed gaze lines are counted and logged, never fatal; a client that goes away ends its session
  and frees its thread; the server keeps listening.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import json
import logging
import math
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .. import pipeline
from ..importance import foveation as fov
from ..importance.sideinfo import FoveatedGaze
from ..importance.temporal import GazeFilter
from . import framing
from .codecs import CODECS, is_standin, open_codec
from .gazeio import GazeInbox, LineSplitter
from .netem import NetEm, NetEmConfig
from .sources import open_source

log = logging.getLogger(__name__)

__all__ = ["ServerConfig", "StreamServer", "check_loopback"]

LOOPBACK = ("127.0.0.1", "::1", "localhost")
_END = object()


def check_loopback(host: str):
    if host not in LOOPBACK:
        raise ValueError(f"streaming binds to loopback only (127.0.0.1, ::1, localhost), got {host!r}")


@dataclass
class ServerConfig:
    source: str = "synthetic"
    size: tuple = (416, 240)
    fps: float | None = None
    count: int | None = None          # frames per session (None: endless / clip length when not looping)
    max_frames: int = 500
    loop: bool = True
    codec: str = "rac"                # rac (the region-adaptive codec) | jpeg (stand-in)
    model: str | None = None
    device: str = "cpu"               # where the codec's networks run (cpu, cuda, cuda:N)
    quality: int = 8                  # constant quality (without a target bitrate)
    target_kbps: float = 0.0          # target bitrate; 0: constant quality
    realtime: bool = True             # False: capture waits for the encoder, no frame is skipped for time
    netem: NetEmConfig = field(default_factory=NetEmConfig)
    predict_ms: float = 0.0
    tau_s: float = 0.04
    deadzone_deg: float = 0.5
    gaze_hold_s: float = 0.25
    display: fov.Display = fov.GAZECOM_DISPLAY
    max_clients: int = 4
    max_send_buffer: int = 1 << 20
    max_backlog_ms: float = 60.0      # skip a frame when the link has more than this queued
    window: int = 0                   # frames handed to the link and not yet acknowledged (0: no limit)
    ack_timeout_s: float = 1.0        # upper bound of the acknowledgement timeout (used until an RTT is measured)
    min_ack_timeout_s: float = 0.03   # lower bound of the RTT-based acknowledgement timeout
    handshake_timeout_s: float = 5.0  # close a connection that sends no valid line for this long (0: never)
    gop: int = 1                      # > 1: P-frames predicted from the newest frame the client decoded
    max_inflight: int = 256


class Mailbox:
    """One slot, newest wins: ``put`` returns the item it replaced (or None)."""

    def __init__(self):
        self._item = None
        self._ev = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    def put(self, item):
        old, self._item = self._item, item
        self._ev.set()
        self._empty.clear()
        return old

    async def get(self):
        await self._ev.wait()
        self._ev.clear()
        item, self._item = self._item, None
        self._empty.set()
        return item

    async def taken(self):
        """Until the slot is empty (the consumer took the last item)."""
        await self._empty.wait()


class Session:
    def __init__(self, server: "StreamServer", reader, writer, sid: int):
        self.server, self.reader, self.writer, self.sid = server, reader, writer, sid
        self.cfg = server.config
        self.name = f"session {sid}"
        self.drops = Counter()
        self.sent = 0
        self.bytes = 0
        self.netem = NetEm(self.cfg.netem)
        self.gaze = None
        self.stop = asyncio.Event()
        self._reader_done = asyncio.Event()
        self._unacked = collections.deque()
        self._sent_at: dict[int, float] = {}   # send time of each frame in flight (window > 0)
        self.srtt = self.rttvar = None         # smoothed round trip (send -> ack) and its mean deviation, s
        self.acked = -1
        self.decoded = None                    # the newest frame the client reported decoded (P-frame reference)
        self.references = Counter()            # frames coded intra / predicted, and why intra
        self.acks = 0
        self.ack_timeouts = 0
        self.handshake_failed = False
        self._last_progress = time.monotonic()
        self._dropped_ranges = collections.deque()
        self._dropped_total = 0
        self.ex = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"rac-enc{sid}")

    @property
    def dropped(self) -> int:
        return sum(self.drops.values())

    def _drop(self, reason, first: int, n: int = 1):
        """Frames ``first .. first+n-1`` are not sent. Each sent frame carries the number of dropped
        frames with a smaller index, so the client can tell server drops from network losses."""
        self.drops[reason] += n
        self._dropped_ranges.append((first, n))

    def _dropped_before(self, index: int) -> int:
        while self._dropped_ranges and self._dropped_ranges[0][0] < index:
            self._dropped_total += self._dropped_ranges.popleft()[1]
        return self._dropped_total

    async def run(self):
        cfg = self.cfg
        src = self.server.source_factory()
        codec = self.server.codec
        self.W, self.H, self.fps = src.width, src.height, src.fps
        self.gaze = GazeInbox((self.W, self.H), self.name, on_ack=self._on_ack)
        ppd = cfg.display.frame_ppd((self.H, self.W))
        self.filter = GazeFilter(self.fps, ppd, tau_s=cfg.tau_s, predict_s=cfg.predict_ms / 1e3,
                                 hold_s=cfg.gaze_hold_s, frame_wh=(self.W, self.H), deadzone_deg=cfg.deadzone_deg)
        tmpl = FoveatedGaze(np.zeros((0, 2)), (self.H, self.W), display=cfg.display, n_levels=codec.levels)
        self.radii, self.floor = tmpl.radii_q, tmpl.floor_level
        opts = encode_options(cfg, codec, stream_id=secrets.randbits(32) or 1)   # a new stream id per session
        self.stream_id = opts.stream_id
        self.encoder = pipeline.FrameEncoder(codec, self.W, self.H, self.fps, opts,
                                             keep=pipeline.STREAM_REFERENCES if cfg.gop > 1 else 1)
        header = pipeline.header_for(codec, self.W, self.H, self.fps, opts)
        header.settings.update({"codec": cfg.codec, "standin": is_standin(codec), "side_info": "foveated_gaze"})
        self.writer.write(framing.message(framing.HEADER, header.to_bytes()))
        self.mailbox = Mailbox()
        self.inflight = collections.deque()
        self.inflight_ev = asyncio.Event()
        tasks = [asyncio.create_task(c) for c in (self._capture(src), self._encode(codec), self._deliver(),
                                                   self._read_gaze(), self._handshake())]
        stopper = asyncio.create_task(self.stop.wait())
        tasks.append(stopper)
        try:
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                errors = [t.exception() for t in done if t.exception() is not None]
                for e in errors:
                    log.error("%s: %s: %s", self.name, e.__class__.__name__, e)
                ended = any(t in (tasks[2], tasks[3], stopper) for t in done)
                no_hello = tasks[4] in done and not errors and tasks[4].result() is False
                if errors or self.stop.is_set() or ended or no_hello:
                    break   # an error, the client left, the stream ended, or the server closes
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.ex.shutdown(wait=True, cancel_futures=True)
            self.writer.close()
            try:
                await asyncio.wait_for(self.writer.wait_closed(), 1.0)
            except (OSError, asyncio.TimeoutError):
                pass
        return self.summary()

    async def _handshake(self):
        """True once the client sent a valid line; returns False (ending the session) when it sends
        none within ``handshake_timeout_s`` (an idle or foreign connection must not hold a slot)."""
        limit = self.cfg.handshake_timeout_s
        if not limit or limit <= 0:
            return True
        t0 = time.monotonic()
        while self.gaze.valid == 0:
            if time.monotonic() - t0 > limit:
                log.warning("%s: no greeting from the client within %.1f s; closing", self.name, limit)
                self.handshake_failed = True
                return False
            await asyncio.sleep(min(0.05, limit / 10))
        return True

    def _on_ack(self, index: int, now: float, decoded: int | None = None):
        self.acks += 1
        if decoded is not None and (self.decoded is None or decoded > self.decoded):
            self.decoded = decoded
        if index > self.acked:
            self.acked = index
            sent = self._sent_at.get(index)
            if sent is not None:  # RFC 6298 estimator (alpha 1/8, beta 1/4)
                r = max(0.0, now - sent)
                if self.srtt is None:
                    self.srtt, self.rttvar = r, r / 2
                else:
                    self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
                    self.srtt = 0.875 * self.srtt + 0.125 * r
            while self._unacked and self._unacked[0] <= index:
                self._sent_at.pop(self._unacked.popleft(), None)
            self._last_progress = now

    def ack_timeout(self) -> float:
        """Seconds without progress after which the window reopens: from the measured round trip."""
        cfg = self.cfg
        if self.srtt is None:
            return cfg.ack_timeout_s
        return min(cfg.ack_timeout_s, max(cfg.min_ack_timeout_s, self.srtt + 4 * self.rttvar))

    def _window_full(self) -> bool:
        w = self.cfg.window
        if w <= 0 or len(self._unacked) < w:
            return False
        now = time.monotonic()
        oldest = self._sent_at.get(self._unacked[0], self._last_progress) if self._unacked else now
        waited = now - max(oldest, self._last_progress)
        if waited > self.ack_timeout():   # acks lost with their frames, or none coming
            log.info("%s: no acknowledgement for %.3f s; reopening the window", self.name, waited)
            self.ack_timeouts += 1
            self._unacked.clear()
            self._sent_at.clear()
            self._last_progress = now
            return False
        return True

    def summary(self) -> dict:
        return {"session": self.sid, "sent": self.sent, "bytes": self.bytes, "drops": dict(self.drops),
                "window": self.cfg.window, "acks": self.acks, "ack_timeouts": self.ack_timeouts,
                "gop": self.cfg.gop, "frame_types": dict(self.references),
                "rtt_ms": None if self.srtt is None else round(1e3 * self.srtt, 3),
                "netem": self.netem.stats(), "handshake_failed": self.handshake_failed,
                "gaze": {} if self.gaze is None else {"received": self.gaze.received, "malformed": self.gaze.bad,
                                                      "stale": self.gaze.stale}}

    async def _capture(self, src):
        count = self.cfg.count if self.cfg.count is not None else src.count
        realtime = self.cfg.realtime
        dt = 1.0 / self.fps
        t0 = time.monotonic()
        i = 0
        while count is None or i < count:
            if not realtime:
                await self.mailbox.taken()   # every frame is coded: wait for the encoder, skip nothing
            now = time.monotonic()
            due = t0 + i * dt
            if due > now:
                await asyncio.sleep(due - now)
            elif realtime and now - due > dt:
                skip = int((now - due) / dt)
                if count is not None:
                    skip = min(skip, count - i)
                self._drop("capture_late", i, skip)
                i += skip
                if count is not None and i >= count:
                    break
            frame = src.frame(i)
            old = self.mailbox.put((i, time.monotonic(), frame))
            if old is not None:
                self._drop("encoder_behind", old[0])
            i += 1
            await asyncio.sleep(0)
        # let the last frame reach the encoder before the end marker
        while self.mailbox._item is not None:
            await asyncio.sleep(dt / 4)
        self.mailbox.put(_END)

    def _build_and_encode(self, codec, item):
        i, t_cap, frame = item
        g = self.gaze.latest
        now = time.monotonic()
        fresh = g is not None and now - g.arrival <= self.cfg.gaze_hold_s
        pts = self.filter.update([[g.sample.x, g.sample.y]] if fresh else [[math.nan, math.nan]])
        side = FoveatedGaze(pts, (self.H, self.W), n_levels=codec.levels, radii_q=self.radii,
                            floor_level=self.floor)
        t_map = time.monotonic()
        # P-frames predict from the newest frame the client said it decoded; none yet: an intra frame
        ref = self.decoded
        pkt, st = self.encoder.encode(frame, side, i, i, intra=self.cfg.gop > 1 and ref is None, ref=ref)
        self.references["p" if pkt.ref is not None else "i"] += 1
        pkt = dataclasses.replace(pkt, stream_id=self.stream_id)   # stamped as container.Writer stamps it
        t_ee = time.monotonic()
        timing = framing.Timing(i, g.sample.seq if g else -1, t_cap, t_map, t_map, t_ee, math.nan, math.nan,
                                g.arrival if g else math.nan, g.sample.t if g else math.nan, 0)
        return timing, pkt.to_bytes()

    async def _encode(self, codec):
        loop = asyncio.get_running_loop()
        while True:
            item = await self.mailbox.get()
            if item is _END:
                self.inflight.append(_END)
                self.inflight_ev.set()
                return
            backlog = self.netem.backlog(time.monotonic())
            if backlog * 1e3 > self.cfg.max_backlog_ms:
                self._drop("link_busy", item[0])   # sending now would only queue: skip; smaller budget
                self.encoder.congested()
                continue
            if self._window_full():
                self._drop("client_behind", item[0])  # the client has not caught up: do not encode more
                continue
            timing, pbytes = await loop.run_in_executor(self.ex, self._build_and_encode, codec, item)
            timing.send = time.monotonic()
            if self.cfg.window > 0:
                self._unacked.append(timing.index)
                self._sent_at[timing.index] = timing.send
            at = timing.send
            if self.netem.config.active:
                at = self.netem.submit(timing.send, framing.MSG_HEADER_SIZE + framing.TIMING_SIZE + len(pbytes))
                if at is None:
                    continue   # lost or tail-dropped on the emulated link (netem counts it)
            if len(self.inflight) >= self.cfg.max_inflight:
                self._drop("inflight_full", timing.index)
                continue
            self.inflight.append((at, timing, pbytes))
            self.inflight_ev.set()

    async def _deliver(self):
        tr = self.writer.transport
        while True:
            while not self.inflight:
                self.inflight_ev.clear()
                await self.inflight_ev.wait()
            item = self.inflight.popleft()
            if self.writer.is_closing():
                return
            if item is _END:
                self.writer.write(framing.message(framing.END, json.dumps(self.summary()).encode()))
                try:
                    if self.writer.can_write_eof():
                        self.writer.write_eof()
                    await asyncio.wait_for(self.writer.drain(), 2.0)
                    # keep reading until the client hangs up: closing first would answer its last
                    # acks/gaze with a reset, which can destroy END unread in its receive buffer
                    await asyncio.wait_for(self._reader_done.wait(), 2.0)
                except (OSError, asyncio.TimeoutError):
                    pass
                log.info("%s: source ended after %d frames", self.name, self.sent)
                return
            at, timing, pbytes = item
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if tr.get_write_buffer_size() > self.cfg.max_send_buffer:
                self._drop("stalled_reader", timing.index)
                if self.drops["stalled_reader"] in (1, 10, 100) or self.drops["stalled_reader"] % 1000 == 0:
                    log.warning("%s: client is not reading; %d frames dropped", self.name,
                                self.drops["stalled_reader"])
                continue
            timing.wire = time.monotonic()
            timing.server_dropped = self._dropped_before(timing.index)
            msg = framing.frame_message(timing, pbytes)
            self.writer.write(msg)
            self.sent += 1
            self.bytes += len(msg)
            await asyncio.sleep(0)

    async def _read_gaze(self):
        try:
            await self._read_lines()
        finally:
            self._reader_done.set()

    async def _read_lines(self):
        split = LineSplitter()
        while True:
            try:
                data = await self.reader.read(4096)
            except (ConnectionError, OSError) as e:
                log.info("%s: connection lost (%s)", self.name, e)
                return
            if not data:
                log.info("%s: client closed the connection", self.name)
                return
            now = time.monotonic()
            for line in split.feed(data):
                if line is None:
                    self.gaze.overlong()
                elif line.strip():
                    self.gaze.feed(line, now)


def encode_options(cfg: ServerConfig, codec, stream_id: int | None = None) -> pipeline.EncodeOptions:
    """The file encoder's options for a stream: constant quality or target bitrate, gaze importance,
    seed 0, the codec's own steps and RDOQ (what ``rac-video encode`` uses by default)."""
    target = float(cfg.target_kbps or 0.0)
    return pipeline.EncodeOptions(quality=None if target > 0 else int(cfg.quality),
                                  bitrate_kbps=target if target > 0 else None, importance="gaze", model=codec.name,
                                  stream_id=stream_id, gop=int(cfg.gop))


class StreamServer:
    """``await start()``, then sessions run as clients connect; ``await close()`` ends them all."""

    def __init__(self, config: ServerConfig, host: str = "127.0.0.1", port: int = 0):
        check_loopback(host)
        if config.codec not in CODECS:
            raise ValueError(f"unknown codec {config.codec!r} (rac | jpeg)")
        self.config, self.host, self.port = config, host, port
        self._src = None
        self.source_factory()   # a bad source fails before the model loads
        self.codec = open_codec(config.codec, model=config.model, device=config.device)
        encode_options(config, self.codec).check()   # quality / bitrate in range
        if is_standin(self.codec):
            log.warning("codec: JPEG stand-in (not the region-adaptive codec)")
        self.sessions: dict[int, Session] = {}
        self._done: dict[int, asyncio.Event] = {}
        self.finished: list[dict] = []
        self.refused = 0
        self._next = 0
        self._srv = None

    def source_factory(self):
        if self._src is None or self.config.source == "synthetic":
            self._src = open_source(self.config.source, size=self.config.size, fps=self.config.fps,
                                    max_frames=self.config.max_frames, loop=self.config.loop)
        return self._src   # clips are read once and shared read-only between sessions

    async def start(self) -> int:
        self._srv = await asyncio.start_server(self._on_client, self.host, self.port)
        self.port = self._srv.sockets[0].getsockname()[1]
        log.info("serving on %s:%d", self.host, self.port)
        return self.port

    async def _on_client(self, reader, writer):
        peer = writer.get_extra_info("peername")
        if len(self.sessions) >= self.config.max_clients:
            self.refused += 1
            log.warning("refusing %s: %d clients already connected", peer, len(self.sessions))
            why = f"server full: {len(self.sessions)} clients connected (max {self.config.max_clients}); try later"
            try:
                writer.write(framing.message(framing.END, json.dumps({"error": why}).encode()))
                await asyncio.wait_for(writer.drain(), 1.0)
            except (OSError, asyncio.TimeoutError):
                pass
            writer.close()
            return
        sid = self._next
        self._next += 1
        log.info("session %d: client %s connected", sid, peer)
        sess = Session(self, reader, writer, sid)
        self.sessions[sid] = sess
        self._done[sid] = asyncio.Event()
        try:
            self.finished.append(await sess.run())
        except Exception as e:  # a broken session must not take the server down
            log.exception("session %d failed: %s", sid, e)
            self.finished.append({**sess.summary(), "error": str(e)})
        finally:
            self.sessions.pop(sid, None)
            self._done.pop(sid).set()
            log.info("session %d closed: %s", sid, sess.summary())

    async def close(self):
        if self._srv is not None:
            self._srv.close()
        waits = [asyncio.create_task(ev.wait()) for ev in self._done.values()]
        for sess in list(self.sessions.values()):
            sess.stop.set()
        if waits:
            await asyncio.wait(waits, timeout=5.0)
        if self._srv is not None:
            await self._srv.wait_closed()
