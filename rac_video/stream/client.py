"""Decoder client: receives frames, decodes each on its own, displays, sends gaze upstream.

Frames decode through :class:`rac_video.pipeline.FrameDecoder` (the per-frame path of ``rac-video
decode``), built from the stream header as from a file header: it refuses a model whose weights hash
differs and reads the seed and dither counter from the header.

::

    socket ─▶ receive (parse, loss accounting, deadline) ─mailbox(1)─▶ decode (thread) ─▶ display
    gaze (synthetic | trace replay | browser mouse) ─▶ JSON lines ─▶ socket

* every frame decodes independently, so a lost frame costs only itself: gaps in the packet index
  are counted as network losses or server drops (the server's running drop count travels with
  each frame);
* a frame whose capture→receive time exceeds ``deadline_ms`` is skipped (``late``); a received
  frame still waiting when a newer one arrives is replaced (``superseded``): latency never builds up
  in front of the decoder;
* a corrupt message body is counted and skipped; a broken stream (bad message header), a silent
  server (``read_timeout_s``) or a closed connection leads to a reconnect (``reconnect`` failed
  attempts in a row end the run);
* with ``viewer_port`` set, frames go to the browser page (:mod:`rac_video.stream.viewer`), whose
  mouse is the gaze; a frame counts as displayed when the page reports it painted.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from dataclasses import dataclass

from .. import pipeline
from ..importance.sideinfo import SideInfoError
from . import framing
from .codecs import CODECS, is_standin, open_codec
from .gazeio import open_gaze
from .stats import FrameRecord, StreamStats

log = logging.getLogger(__name__)

__all__ = ["ClientConfig", "StreamClient"]


@dataclass
class ClientConfig:
    port: int
    host: str = "127.0.0.1"
    gaze: str = "synthetic"        # none | synthetic | trace:PATH | viewer
    gaze_hz: float = 120.0
    seed: int = 0
    deadline_ms: float = 0.0       # 0: no deadline
    max_frames: int | None = None  # stop after receiving this many frames
    duration_s: float | None = None
    reconnect: int = 5             # failed connection attempts in a row before giving up
    reconnect_delay_s: float = 0.2
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    viewer_port: int | None = None
    model: str | None = None
    device: str = "cpu"            # where the codec's networks run (cpu, cuda, cuda:N)
    realism: float | None = None   # the decoder's realism ρ (rac_video.codec.realism); None: the stream header's


class _Reconnect(Exception):
    pass


def _timeout(seconds):
    """``asyncio.timeout`` (3.11+). Not ``asyncio.wait_for``: on 3.11 it can swallow a cancellation
    that arrives as the read completes, and a receive loop on a live stream then never stops."""
    if hasattr(asyncio, "timeout"):
        return asyncio.timeout(seconds)
    return _WaitForTimeout(seconds)   # pragma: no cover - Python 3.10


class _WaitForTimeout:  # pragma: no cover - Python 3.10 fallback: a timer that cancels the task
    def __init__(self, seconds):
        self.seconds = seconds

    async def __aenter__(self):
        task = asyncio.current_task()
        self._fired = False

        def fire():
            self._fired = True
            task.cancel()
        self._h = asyncio.get_running_loop().call_later(self.seconds, fire)

    async def __aexit__(self, et, exc, tb):
        self._h.cancel()
        if et is asyncio.CancelledError and self._fired:
            raise asyncio.TimeoutError
        return False


class StreamClient:
    def __init__(self, config: ClientConfig, sink=None):
        """``sink(frame, record)``: called on the event loop for every displayed frame (headless)."""
        from .server import check_loopback

        check_loopback(config.host)
        self.cfg = config
        self.sink = sink
        self.stats = StreamStats()
        self.server_reports: list[dict] = []
        self.header = None
        self.codec = None        # the frame codec (the model, or the JPEG stand-in), kept across sessions
        self.decoder = None      # pipeline.FrameDecoder for the current session's header
        self.ended = False
        self.stop = asyncio.Event()
        self.viewer = None
        self.gaze_queue: asyncio.Queue | None = None
        self._received = 0
        self._seq = 0
        self._pending_display: dict[int, FrameRecord] = {}
        self._writer = None
        self._acked = -1
        self._decoded = self._dec_sent = None   # the newest frame decoded, and the one last reported
        self.failure: str | None = None   # why the run ended without the stream's end (server gone, refused)
        self.ex = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="rac-dec")

    # ------------------------------------------------------------------ run
    async def run(self) -> StreamStats:
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        if cfg.viewer_port is not None:
            from .viewer import Viewer

            self.gaze_queue = asyncio.Queue(64)
            self.viewer = Viewer(self, loop, cfg.viewer_port)
            self.viewer.start()
        deadline = None if cfg.duration_s is None else time.monotonic() + cfg.duration_s
        fails = 0
        try:
            while not self.stop.is_set() and not self.ended:
                if deadline is not None and time.monotonic() >= deadline:
                    break
                try:
                    reader, writer = await asyncio.wait_for(asyncio.open_connection(cfg.host, cfg.port),
                                                            cfg.connect_timeout_s)
                except (OSError, asyncio.TimeoutError) as e:
                    fails += 1
                    self.stats.counts["connect_failures"] += 1
                    if fails > cfg.reconnect:
                        log.error("giving up after %d failed connection attempts (%s)", fails, e)
                        self.failure = f"cannot reach the server at {cfg.host}:{cfg.port} ({e})"
                        break
                    log.warning("cannot connect to %s:%d (%s); retry %d/%d", cfg.host, cfg.port, e, fails,
                                cfg.reconnect)
                    await asyncio.sleep(cfg.reconnect_delay_s * fails)
                    continue
                self.stats.counts["sessions"] += 1
                before = self.stats.counts["received"]
                try:
                    await self._session(reader, writer, deadline)
                except _Reconnect as e:
                    self.stats.counts["disconnects"] += 1
                    if self.stats.counts["received"] > before:
                        fails = 0       # the session delivered frames: a fresh start
                    else:
                        fails += 1      # nothing came through: back off, and give up eventually
                        if fails > cfg.reconnect:
                            log.error("giving up: %d sessions in a row ended without a frame (%s)", fails, e)
                            self.failure = f"the server went away: {e}"
                            break
                    log.warning("stream interrupted (%s); reconnecting", e)
                    await asyncio.sleep(cfg.reconnect_delay_s * fails)
                finally:
                    writer.close()
                    try:
                        await asyncio.wait_for(writer.wait_closed(), 1.0)
                    except (OSError, asyncio.TimeoutError):
                        pass
        finally:
            self.ex.shutdown(wait=True, cancel_futures=True)
            if self.viewer is not None:
                self.viewer.close()
        return self.stats

    async def _session(self, reader, writer, deadline):
        cfg = self.cfg
        self.stats.new_session()
        self._last_index = None
        self._last_server_dropped = 0
        self.mailbox = asyncio.Queue(1)
        self._writer, self._acked, self._decoded, self._dec_sent = writer, -1, None, None
        writer.write(framing.HELLO_LINE)   # the server closes connections that do not greet it
        kind, body = await self._read_message(reader, cfg.connect_timeout_s)
        if kind == framing.END:
            try:
                rep = framing.parse_end(body)
            except ValueError:
                rep = {}
            if rep.get("error"):   # refused (e.g. the server is full): retrying at once will not help
                self.failure = f"server refused the connection: {str(rep['error'])[:200]}"
                self.stop.set()
                return
        if kind != framing.HEADER:
            raise _Reconnect(f"expected a header, got message kind {kind}")
        h, name = self._parse_header(body)
        # load the codec off the loop, while frames are already being received (a model load takes
        # seconds; until it is there, newer frames supersede older ones instead of piling up)
        self.decoder = None
        self._decoder_ready = asyncio.get_running_loop().run_in_executor(self.ex, self._open_decoder, h, name)
        tasks = [asyncio.create_task(self._receive(reader)), asyncio.create_task(self._decode()),
                 asyncio.create_task(self._send_gaze(writer))]
        stopper = asyncio.create_task(self.stop.wait())
        tasks.append(stopper)
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            pending = {tasks[0], tasks[1], stopper}
            while pending:
                done, pending = await asyncio.wait(pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    break   # duration reached
                excs = [t.exception() for t in done if not t.cancelled() and t.exception() is not None]
                if excs:   # a real error (e.g. the model cannot load) wins over a broken connection
                    raise next((e for e in excs if not isinstance(e, _Reconnect)), excs[0])
                if tasks[1] in done or stopper in done:
                    break   # decoding finished (end of stream) or stop requested
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for rec in self._pending_display.values():
                rec.status = "not_shown"
            self._pending_display.clear()

    def _parse_header(self, body):
        try:
            h, _ = framing.Header.from_bytes(body)
        except framing.ContainerError as e:
            raise _Reconnect(f"bad stream header: {e}") from None
        settings = h.settings if isinstance(h.settings, dict) else {}
        name = settings.get("codec")
        if name not in CODECS:
            self.stop.set()
            self.failure = f"stream uses an unknown codec {str(name)[:40]!r}"
            raise ValueError(self.failure)
        self.header = h
        self.W, self.H = int(h.width), int(h.height)
        log.info("stream %dx%d at %d/%d fps, codec %s%s", self.W, self.H, h.fps_num, h.fps_den, name,
                 " (stand-in)" if settings.get("standin") else "")
        return h, name

    def _open_decoder(self, h, name):
        """The frame decoder for header ``h`` (the codec is loaded once and kept while the model stays)."""
        pipeline.check_header(h)   # model name, frame rate, settings: checked before any model is loaded
        if self.codec is None or self.codec.name != (h.model if name == "rac" else "jpeg-standin"):
            self.codec = None
            self.codec = open_codec(name, model=h.model, device=self.cfg.device)
        # refuses another model's weights hash; realism: this client's ρ, else the header's default
        return pipeline.FrameDecoder(self.codec, h, realism=self.cfg.realism, keep=pipeline.STREAM_REFERENCES)

    async def _read_message(self, reader, timeout):
        try:
            async with _timeout(timeout):
                head = await reader.readexactly(framing.MSG_HEADER_SIZE)
            kind, n = framing.split_header(head)
            async with _timeout(timeout):
                body = await reader.readexactly(n)
        except asyncio.TimeoutError:
            raise _Reconnect(f"no data from the server for {timeout:g} s") from None
        except asyncio.IncompleteReadError:
            raise _Reconnect("server closed the connection") from None
        except (ConnectionError, OSError) as e:
            raise _Reconnect(f"connection error: {e}") from None
        except framing.ProtocolError as e:
            raise _Reconnect(f"broken stream: {e}") from None
        return kind, body

    # ------------------------------------------------------------------ receive
    async def _receive(self, reader):
        cfg = self.cfg
        while True:
            kind, body = await self._read_message(reader, cfg.read_timeout_s)
            t_recv = time.monotonic()
            if kind == framing.END:
                self.ended = True
                try:
                    self.server_reports.append(framing.parse_end(body))
                except ValueError as e:
                    log.warning("unreadable end-of-stream report: %s", e)
                log.info("server ended the stream")
                await self.mailbox.put(None)
                return
            if kind != framing.FRAME:
                self.stats.counts["unexpected_messages"] += 1
                continue
            try:
                timing, pkt = framing.parse_frame(body)
            except framing.ProtocolError as e:
                self.stats.counts["corrupt"] += 1
                log.warning("corrupt frame message skipped: %s", e)
                continue
            sid = self.header.stream_id
            if sid and pkt.stream_id != sid:   # a packet of another stream (format 2.0 stream ids)
                self.stats.counts["corrupt"] += 1
                log.warning("frame %d belongs to another stream, skipped", timing.index)
                continue
            self._account(timing)
            rec = FrameRecord(timing.index, pkt.quality, len(body) + framing.MSG_HEADER_SIZE, len(pkt.side_info),
                              timing.gaze_seq, timing.capture, timing.map_built, timing.encode_start,
                              timing.encode_end, timing.send, timing.wire, timing.gaze_arrival, timing.gaze_client,
                              t_recv)
            self.stats.add(rec)
            self.stats.counts["received"] += 1
            self._received += 1
            if cfg.deadline_ms and (t_recv - timing.capture) * 1e3 > cfg.deadline_ms:
                rec.status = "late"
                self.stats.counts["late"] += 1
                self._ack(rec.index)
            else:
                if self.mailbox.full():
                    old = self.mailbox.get_nowait()
                    if old is not None:
                        old[0].status = "superseded"
                        self.stats.counts["superseded"] += 1
                self.mailbox.put_nowait((rec, pkt))
            if cfg.max_frames is not None and self._received >= cfg.max_frames:
                self.ended = True
                await self.mailbox.put(None)
                return

    def _account(self, timing):
        if self._last_index is not None:
            gap = timing.index - self._last_index - 1
            by_server = max(0, timing.server_dropped - self._last_server_dropped)
            if gap > 0:
                self.stats.counts["dropped_by_server"] += min(gap, by_server)
                self.stats.counts["lost_in_network"] += max(0, gap - by_server)
        elif timing.index > 0:
            self.stats.counts["dropped_by_server"] += min(timing.index, timing.server_dropped)
            self.stats.counts["lost_in_network"] += max(0, timing.index - timing.server_dropped)
        self._last_index = timing.index
        self._last_server_dropped = timing.server_dropped

    # ------------------------------------------------------------------ decode + display
    def _decode_one(self, rec, pkt):
        rec.decode_start = time.monotonic()
        frame = self.decoder.decode(pkt)   # CorruptPacketError on bad side info (e.g. too many levels) or payload
        rec.decode_end = time.monotonic()
        self._decoded = pkt.index       # a reference the server may predict from (reported with the acks)
        return frame

    async def _decode(self):
        loop = asyncio.get_running_loop()
        try:
            self.decoder = await self._decoder_ready
        except Exception as e:
            self.stop.set()   # a missing or mismatched model does not get better by reconnecting
            self.failure = f"cannot decode the stream: {e}"
            raise
        while True:
            item = await self.mailbox.get()
            if item is None:
                # let the viewer report the last frames before the session ends
                if self.viewer is not None and self._pending_display:
                    await asyncio.sleep(0.3)
                return
            rec, pkt = item
            try:
                frame = await loop.run_in_executor(self.ex, self._decode_one, rec, pkt)
            except (ValueError, SideInfoError) as e:   # CorruptPacketError (bad side info or payload) is one
                rec.status = "decode_error"
                self.stats.counts["decode_errors"] += 1
                self._ack(rec.index)
                log.warning("frame %d does not decode, skipped: %s", rec.index, e)
                continue
            if self.viewer is not None:
                self._pending_display[rec.index] = rec
                while len(self._pending_display) > 64:
                    old = self._pending_display.pop(next(iter(self._pending_display)))
                    old.status = "not_shown"
                self.viewer.offer(frame, rec)
            else:
                if self.sink is not None:
                    self.sink(frame, rec)
                self.stats.displayed(rec, time.monotonic())
                self._ack(rec.index)

    def on_displayed(self, index: int, t: float):
        """The viewer page painted frame ``index`` at ``t`` (called on the loop)."""
        rec = self._pending_display.pop(index, None)
        if rec is None:
            self.stats.counts["unknown_display_reports"] += 1
            return
        # frames offered before it but never painted were overtaken by this one
        for k in [k for k in self._pending_display if k < index]:
            self._pending_display.pop(k).status = "not_shown"
            self.stats.counts["not_shown"] += 1
        self.stats.displayed(rec, t)
        self._ack(index)

    def _ack(self, index: int):
        """Tell the server that every frame up to ``index`` is done with (for its send window), and which
        frame was decoded last (its reference for P-frames)."""
        w = self._writer
        dec = self._decoded if self._decoded is not None and self._decoded <= max(index, self._acked) else None
        if w is None or w.is_closing() or (index <= self._acked and dec == self._dec_sent):
            return
        if w.transport.get_write_buffer_size() > 65536:
            return   # the server is not reading; a later ack covers this one
        self._acked, self._dec_sent = max(index, self._acked), dec
        w.write(framing.ack_line(self._acked, dec))

    # ------------------------------------------------------------------ gaze upstream
    async def _send_gaze(self, writer):
        cfg = self.cfg
        if cfg.gaze == "viewer":
            if self.gaze_queue is None:
                raise ValueError("gaze 'viewer' needs the viewer (viewer_port)")
            while True:
                x, y = await self.gaze_queue.get()
                self._write_gaze(writer, x * self.W, y * self.H)
        gen = open_gaze(cfg.gaze, (self.W, self.H), cfg.seed)
        if gen is None:
            return
        if not cfg.gaze_hz > 0:
            raise ValueError("gaze_hz must be positive")
        t0 = time.monotonic()
        k = 0
        while True:
            pos = gen.position(time.monotonic() - t0)
            if pos is not None:
                self._write_gaze(writer, *pos)
            k += 1
            await asyncio.sleep(max(0.0, t0 + k / cfg.gaze_hz - time.monotonic()))

    def _write_gaze(self, writer, x, y):
        if writer.is_closing():
            return
        if writer.transport.get_write_buffer_size() > 65536:
            self.stats.counts["gaze_not_sent"] += 1   # server is not reading: do not queue
            return
        x = min(max(float(x), 0.0), self.W - 1e-3)
        y = min(max(float(y), 0.0), self.H - 1e-3)
        self._seq += 1
        writer.write(framing.gaze_line(framing.GazeSample(self._seq, time.monotonic(), x, y)))
        self.stats.counts["gaze_sent"] += 1

    def summary(self, meta=None) -> dict:
        s = self.stats.summary(meta)
        s["server"] = self.server_reports
        if self.codec is not None and is_standin(self.codec):
            s["codec_note"] = "JPEG stand-in, not the region-adaptive codec"
        return s


