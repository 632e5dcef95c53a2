"""Video pipeline: reader → importance → codec → ``.racv``, and ``.racv`` → codec → writer (docs/design.md §2).

Both directions overlap I/O with compute: a reader thread decodes frames (and builds the
importance map, which needs them in order) into a bounded queue, the calling thread runs the
codec, and a writer thread drains a second bounded queue into the container or the video file,
so memory stays bounded by the queue sizes whatever the length of the video. Decoding splits the
codec in two (:meth:`FrameDecoder.entropy` / :meth:`FrameDecoder.picture`): the reader thread also
runs the entropy half (side information, integer networks, rANS), a few frames ahead, on its own CUDA
stream on a GPU, while the calling thread runs the pixel networks of the frame before; frames move
between host and device through pinned buffers (``rac_video.codec.transfer``).

One dither policy for every path: the hashed dither's frame counter (``dither_frame``) is the
constant :data:`DITHER_FRAME`, written in the header, not the frame number, so a static region with
static importance quantizes to the same integers in every frame: the dither adds no flicker.

:class:`FrameEncoder` / :class:`FrameDecoder` are the per-frame halves, a codec usable without a
container (as PyAV's codec context is): ``rac-video stream`` codes every frame through them on its own
transport, so a stream sends exactly the packets a ``.racv`` file holds. :func:`encode_video` /
:func:`decode_video` are what ``rac-video encode`` / ``decode`` run.

What they need of a codec (:class:`~rac_video.codec.Codec`, or a stand-in such as the stream's
``JpegStandIn``): ``name``, ``weights_hash``, ``levels``, ``steps``, ``rdoq``, ``schedule_version``,
``device``, ``device_independent``, ``latent_hw``, ``encode_frame``, ``decode_frame`` and, for a
bitrate target, ``rate_function``.
"""
from __future__ import annotations

import math
import os
import queue
import re
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import arith, schedule
from .codec import inter, transfer
from .codec.model import MAX_STEPS, Codec, PayloadError, load_model
from .codec.rdoq import check_alpha
from .codec.refine import check_refine
from .codec.realism import check_realism
from .codec.weights import DEFAULT_MODEL, ModelMismatchError
from .container import CorruptPacketError, FramePlan, Header, Packet, Reader, Writer
from .errors import InvalidInputError
from .importance import sideinfo
from .importance.source import ImportanceFrame, open_source
from .profiling import stage, staged
from .rate import RateController

__all__ = ["EncodeOptions", "FrameEncoder", "FrameDecoder", "encode_video", "decode_video", "PipelineError",
           "header_for"]

DITHER_FRAME = 0  # dither_frame, the dither's frame counter: fixed, so static content quantizes identically


class PipelineError(InvalidInputError):
    """A user-facing failure of encode/decode (bad input file, model mismatch, corrupt stream)."""


MAX_GOP = 100000          # the longest GOP --gop takes
STREAM_REFERENCES = 16    # reference states a stream keeps at each end (P-frames predict from an acknowledged one)
MAX_FPS = 1000            # frame rates a stream may declare: (0, MAX_FPS] with a denominator <= MAX_FPS_DEN
MAX_FPS_DEN = 1_000_000
_MODEL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


def check_model_name(name) -> str:
    """A model name as the weights store accepts it (letters, digits, '-', '_'; at most 64)."""
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        shown = repr(name) if not isinstance(name, str) or len(name) <= 40 else repr(name[:40]) + "…"
        raise PipelineError(f"bad model name {shown}: letters, digits, '-' and '_', at most 64 characters")
    return name


def check_fps(fps, what: str = "fps") -> Fraction:
    """A frame rate as a Fraction in (0, MAX_FPS]; anything else (inf, NaN, 0, huge) is a PipelineError."""
    try:
        f = Fraction(fps)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        raise PipelineError(f"{what} must be a positive finite number, got {fps!r}") from None
    if not Fraction(1, 3600) <= f <= MAX_FPS:
        raise PipelineError(f"{what} must be in [1/3600, {MAX_FPS}] frames/s, got {float(f):.6g}")
    return f


def check_header(header: Header) -> None:
    """What a decoder needs of a stream header before it loads a model or allocates anything: a valid
    model name, a frame rate in range and codec settings of the right types (container.Header already
    bounds the frame size and the settings JSON)."""
    check_model_name(header.model)
    check_fps(Fraction(header.fps_num, header.fps_den), "the stream's frame rate")
    s = header.settings
    if "steps" in s:
        _int_setting(s, "steps", 0, 0, MAX_STEPS)
    if "realism" in s:
        try:
            check_realism(s["realism"])
        except InvalidInputError as exc:
            raise PipelineError(f"{exc} (in the stream header)") from None
    _int_setting(s, "seed", 0, 0, 2**32 - 1)
    _int_setting(s, "dither_frame", DITHER_FRAME, 0, 2**32 - 1)


def _int_setting(s: dict, key: str, default: int, lo: int, hi: int) -> int:
    v = s.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        shown = repr(v) if len(repr(v)) <= 40 else repr(v)[:40] + "…"
        raise PipelineError(f"stream header setting {key!r} must be an integer in [{lo}, {hi}], got {shown}")
    return v


def check_steps(steps):
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise PipelineError(f"steps must be an integer in 0..{MAX_STEPS}, got {steps!r}")
    return steps


@dataclass
class EncodeOptions:
    quality: int | None = 8              # constant quality q (0..Q_MAX), or None with bitrate_kbps
    bitrate_kbps: float | None = None    # target bitrate: q chosen per frame from the rate estimate
    importance: str = "uniform"          # rac_video.importance.source spec
    importance_kw: dict = field(default_factory=dict)
    steps: int | None = None             # DDIM steps the decoder runs (in the header); None: the model's
    rdoq: float | None = None            # the encoder's RDOQ α (rac_video.codec.rdoq); None: the model's default
    seed: int = 0
    realism: float = 0.0                 # the decoders' default realism ρ (in the header; rac_video.codec.realism)
    colour: bool = True                  # send the colour layer (rac_video.codec.colour)
    masked: int = 0                      # masked levels M: elements of level < M send no symbol (codec module doc)
    refine: int = 0                      # latent refinement steps of intra frames (rac_video.codec.refine; 0: off)
    model: str = DEFAULT_MODEL
    device: str = "cpu"
    max_frames: int | None = None
    fps: float | None = None             # frame rate of an image folder (a video file has its own)
    queue_size: int = 4
    stream_id: int | None = None         # the .racv stream id in the header and every packet; None: random
    gop: int = 1                         # an intra frame every gop frames, P-frames between (1: all intra)

    def check(self):
        if self.bitrate_kbps is None:
            if self.quality is None or not 0 <= int(self.quality) <= schedule.Q_MAX:
                raise ValueError(f"quality must be in 0..{schedule.Q_MAX}, got {self.quality!r}")
        elif not (math.isfinite(float(self.bitrate_kbps)) and 0 < float(self.bitrate_kbps) <= 1e7):
            raise ValueError(f"bitrate must be a positive finite number of kbit/s (at most 1e7), got "
                             f"{self.bitrate_kbps!r}")
        if self.steps is not None and not 0 <= int(self.steps) <= MAX_STEPS:
            raise ValueError(f"steps must be in 0..{MAX_STEPS}")
        if self.max_frames is not None and int(self.max_frames) < 1:
            raise ValueError(f"the number of frames to encode must be at least 1, got {self.max_frames!r}")
        if self.fps is not None:
            check_fps(self.fps)
        check_model_name(self.model)
        if self.rdoq is not None:
            check_alpha(self.rdoq)
        if not 0 <= int(self.seed) < 2**32:
            raise ValueError("seed must be in [0, 2^32)")
        check_realism(self.realism)
        if isinstance(self.masked, bool) or not 0 <= int(self.masked) < schedule.DEFAULT_LEVELS:
            raise ValueError(f"masked levels must be in 0..{schedule.DEFAULT_LEVELS - 1}, got {self.masked!r}")
        check_refine(self.refine)
        if self.stream_id is not None and not 1 <= int(self.stream_id) < 2**32:
            raise ValueError(f"stream id must be in [1, 2^32), got {self.stream_id!r}")
        if isinstance(self.gop, bool) or not isinstance(self.gop, int) or not 1 <= self.gop <= MAX_GOP:
            raise ValueError(f"gop must be an integer in 1..{MAX_GOP}, got {self.gop!r}")
        if self.gop > 1 and self.bitrate_kbps is not None:
            raise ValueError("--gop > 1 works with a constant quality (-q) only: the rate control estimates "
                             "intra frames")
        if self.gop > 1 and int(self.masked):
            raise ValueError("masked levels (--masked) are coded in intra frames only: use --gop 1")


def header_for(codec: Codec, width: int, height: int, fps: Fraction, opts: EncodeOptions) -> Header:
    from .entropy import SCALE_TABLE_VERSION

    fps = Fraction(fps).limit_denominator(1_000_000)
    settings = {"steps": codec.steps if opts.steps is None else int(opts.steps), "seed": int(opts.seed),
                "levels": codec.levels,
                "rdoq": codec.rdoq if opts.rdoq is None else float(opts.rdoq),          # informational
                "schedule_version": codec.schedule_version, "scale_table_version": SCALE_TABLE_VERSION,
                "dither_frame": DITHER_FRAME, "importance": opts.importance,
                # the decoder's default realism ρ (a decoder may choose another: the same file decodes in any)
                "realism": check_realism(opts.realism), "colour_layer": bool(opts.colour),
                "masked_levels": int(opts.masked),
                "refine": int(opts.refine),                                                 # informational
                # the arithmetic that decided the symbols: "integer" (the same everywhere) for models with
                # integer entropy networks, else the device class (the decoder warns when its own differs)
                "arith": "integer" if codec.device_independent else arith.arith_class(codec.device),
                "rate_control": ({"mode": "bitrate", "target_kbps": float(opts.bitrate_kbps)}
                                 if opts.bitrate_kbps else {"mode": "quality", "quality": int(opts.quality)})}
    if opts.gop > 1:                     # informational (packets say which frames are P and their reference)
        settings["gop"] = int(opts.gop)
    return Header(model=codec.name, weights_hash=codec.weights_hash, width=int(width), height=int(height),
                  fps_num=fps.numerator, fps_den=fps.denominator, color="rgb24", settings=settings,
                  stream_id=None if opts.stream_id is None else int(opts.stream_id))


class FrameEncoder:
    """Frame + importance → :class:`~rac_video.container.Packet` (with per-frame stats).

    With ``opts.gop`` > 1 (a model with a temporal prior) frames between intra frames are P-frames
    predicted from the frame before (``rac_video.codec.inter.SequenceEncoder``); an intra frame also comes
    at a scene cut (a P-frame whose blocks almost all chose intra coding is coded again as an I-frame) and
    on request (:meth:`request_intra`, or ``encode(..., intra=True)``). ``keep``: how many reference states
    to keep (the stream predicts from the last acknowledged frame, not always the one before)."""

    def __init__(self, codec: Codec, width: int, height: int, fps, opts: EncodeOptions, *, keep: int = 1):
        opts.check()
        self.codec, self.width, self.height, self.opts = codec, int(width), int(height), opts
        self.latent_hw = codec.latent_hw(height, width)
        self.rate = RateController(opts.bitrate_kbps, fps) if opts.bitrate_kbps else None
        self.gop = int(opts.gop)
        if self.gop > 1 and getattr(codec, "temporal", None) is None:
            raise PipelineError(f"model {codec.name} has no temporal prior: --gop > 1 needs a model with one "
                                f"(rac-video info lists them)")
        self.seq = inter.SequenceEncoder(codec, gop=self.gop, seed=opts.seed, dither_frame=DITHER_FRAME,
                                         steps=opts.steps, rdoq=opts.rdoq, colour=opts.colour,
                                         masked=int(opts.masked), keep=keep, refine=int(opts.refine))

    def request_intra(self):
        """Make the next frame an intra frame."""
        self.seq.request_intra()

    def encode(self, frame: np.ndarray, importance: ImportanceFrame | sideinfo.SideInfo, index: int,
               pts: int, *, intra: bool = False, ref: int | None = None) -> tuple[Packet, dict]:
        """One packet. ``importance``: the frame's :class:`ImportanceFrame`, or its side information
        itself (what the stream builds from the newest gaze sample). ``intra``: code an intra frame;
        ``ref``: the frame a P-frame predicts from (default: the frame before; the stream: the last frame
        the client acknowledged)."""
        t0 = time.perf_counter()
        with stage("importance"):
            side = importance if isinstance(importance, sideinfo.SideInfo) else importance.side_info(self.latent_hw)
            side_bytes = side.to_bytes()
            levels_u8 = side.levels(self.latent_hw)
        est = None
        if self.rate is not None:
            rate_fn = self.codec.rate_function(frame, levels_u8, seed=self.opts.seed, dither_frame=DITHER_FRAME,
                                               rdoq=self.opts.rdoq, colour=self.opts.colour,
                                               masked=int(self.opts.masked))
            overhead = 8 * (len(side_bytes) + len(Packet(index, pts, 0, b"", b"").to_bytes()))
            q, est = self.rate.choose(lambda q: rate_fn(q) + overhead)
        else:
            q = int(self.opts.quality)
        payload, used, pstats = self.seq.encode(frame, levels_u8, q, index=index, ref=ref, intra=intra)
        pkt = Packet(index=index, pts=pts, quality=q, side_info=side_bytes, payload=payload, ref=used)
        nbytes = len(pkt.to_bytes())
        if self.rate is not None:
            self.rate.update(8 * nbytes)
        stats = {"index": index, "quality": q, "bytes": nbytes, "payload_bytes": len(payload),
                 "side_info_bytes": len(side_bytes), "header_bytes": nbytes - len(payload) - len(side_bytes),
                 "estimated_bits": est, "encode_ms": 1e3 * (time.perf_counter() - t0),
                 "mean_level": float(levels_u8.mean()) if levels_u8.size else 0.0, "type": pkt.kind,
                 **({"ref": used} if used is not None else {}), **pstats}
        return pkt, stats

    def congested(self) -> None:
        """A frame was skipped because the link is backed up: with a bitrate target, the next frames
        get a smaller budget (:meth:`RateController.congested`); a constant quality stays constant."""
        if self.rate is not None:
            self.rate.congested()


class FrameDecoder:
    """:class:`~rac_video.container.Packet` → uint8 RGB frame, for the stream described by ``header``."""

    def __init__(self, codec: Codec, header: Header, *, steps: int | None = None, realism: float | None = None,
                 keep: int = 1):
        """``realism``: ρ for every frame (rac_video.codec.realism); None: the default the header records
        (0 for files written before the realism control). The noise of a realism decode is seeded by the
        stream's seed and dither frame, so a static background keeps the same generated texture from frame
        to frame (no flicker) and every decode of the file is the same. P-frames decode against the state of
        their reference frame (``rac_video.codec.inter.SequenceDecoder``); ``keep``: how many such states to
        keep (the stream's reference is the last acknowledged frame)."""
        check_header(header)
        if header.model != codec.name or header.weights_hash != codec.weights_hash:
            raise ModelMismatchError(f"stream was encoded with {header.model} ({header.weights_hash[:16]}…), the "
                                     f"loaded model is {codec.name} ({codec.weights_hash[:16]}…)")
        self.codec, self.header = codec, header
        self.latent_hw = codec.latent_hw(header.height, header.width)
        s = header.settings
        self.seed = _int_setting(s, "seed", 0, 0, 2**32 - 1)
        self.dither_frame = _int_setting(s, "dither_frame", DITHER_FRAME, 0, 2**32 - 1)
        if "levels" in s and _int_setting(s, "levels", codec.levels, 2, 256) != codec.levels:
            raise PipelineError(f"stream has {s['levels']} importance levels, the model {codec.levels}")
        self.steps = check_steps(steps)
        try:
            self.realism = check_realism(s.get("realism", 0.0) if realism is None else realism)
        except InvalidInputError as exc:
            raise PipelineError(f"{exc} (in the stream header)" if realism is None else str(exc)) from None
        self.arith_mismatch = None if codec.device_independent else arith.warn_if_mismatch(s.get("arith"),
                                                                                             codec.device)
        self.seq = inter.SequenceDecoder(codec, seed=self.seed, dither_frame=self.dither_frame, height=header.height,
                                         width=header.width, steps=self.steps, realism=self.realism, keep=keep)
        # the entropy half on its own CUDA stream (a no-op on a CPU): it may run in another thread
        self.side = transfer.SideStream(getattr(codec, "device", "cpu"))

    def decode(self, pkt: Packet) -> np.ndarray:
        """The frame of ``pkt`` (:meth:`picture` of :meth:`entropy`); ``CorruptPacketError`` when it does not
        decode."""
        return self.picture(self.entropy(pkt))

    def entropy(self, pkt: Packet) -> inter.EntropyFrame:
        """The entropy half of ``pkt``'s decode (side information, symbols, reference state): may run ahead
        of :meth:`picture` in another thread, in packet order (``decode_video``); ``CorruptPacketError``."""
        try:
            with stage("importance"):
                levels_u8 = sideinfo.from_bytes(pkt.side_info).levels(self.latent_hw)
        except (ValueError, RecursionError, OverflowError, MemoryError) as exc:  # SideInfoError and kin
            raise CorruptPacketError(f"frame {pkt.index}: bad side information: {exc}", frame=pkt.index) from None
        levels_u8 = np.asarray(levels_u8)
        if levels_u8.shape != tuple(self.latent_hw) or (levels_u8.size and int(levels_u8.max()) >= self.codec.levels):
            raise CorruptPacketError(f"frame {pkt.index}: bad side information: levels of shape {levels_u8.shape} "
                                     f"up to {int(levels_u8.max()) if levels_u8.size else 0} for a "
                                     f"{tuple(self.latent_hw)} latent with {self.codec.levels} levels",
                                     frame=pkt.index)
        if not 0 <= pkt.quality <= schedule.Q_MAX:
            raise CorruptPacketError(f"frame {pkt.index}: quality {pkt.quality} out of range", frame=pkt.index)
        try:
            return self.side.run(self.seq.entropy, pkt.payload, levels_u8, pkt.quality, index=pkt.index, ref=pkt.ref)
        except PayloadError as exc:
            cause = f" (likely cause: {self.arith_mismatch})" if self.arith_mismatch else ""
            raise CorruptPacketError(f"frame {pkt.index}: {exc}{cause}", frame=pkt.index) from exc

    def picture(self, e: inter.EntropyFrame) -> np.ndarray:
        """The picture of a frame :meth:`entropy` decoded (in the order it decoded them)."""
        return self.seq.picture(transfer.hand_over(e)).frame


# ---------------------------------------------------------------------------------------------- threads
_END = object()


class _Pump(threading.Thread):
    """Run ``produce(put)`` in a thread feeding a bounded queue; errors are re-raised by the consumer."""

    def __init__(self, produce, size):
        super().__init__(daemon=True, name="reader")
        self.q: queue.Queue = queue.Queue(maxsize=size)
        self.produce, self.error, self.stop = produce, None, threading.Event()

    def put(self, item):
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(self):
        try:
            self.produce(self.put)
        except BaseException as exc:  # handed to the consumer
            self.error = exc
        finally:
            self.put(_END)

    def __iter__(self):
        while True:
            item = self.q.get()
            if item is _END:
                if self.error is not None:
                    raise self.error
                return
            yield item

    def close(self):
        """Stop producing; waits (bounded) for the thread, which may be in the middle of a frame."""
        self.stop.set()
        if self.is_alive() and self is not threading.current_thread():
            self.join(timeout=30)


class _Sink(threading.Thread):
    """Consume items with ``consume(item)`` in a thread (bounded queue)."""

    def __init__(self, consume, size):
        super().__init__(daemon=True, name="writer")
        self.q: queue.Queue = queue.Queue(maxsize=size)
        self.consume, self.error = consume, None

    def run(self):
        while True:
            item = self.q.get()
            if item is _END:
                return
            if self.error is None:
                try:
                    with stage("write"):
                        self.consume(item)
                except BaseException as exc:
                    self.error = exc

    def put(self, item):
        if self.error is not None:
            raise self.error
        self.q.put(item)

    def finish(self):
        self.q.put(_END)
        self.join()
        if self.error is not None:
            raise self.error


# ---------------------------------------------------------------------------------------------- encode
def encode_video(src, out_path, opts: EncodeOptions | None = None, *, progress: bool = True,
                 keep_frames: bool = False, codec: Codec | None = None, importance_source=None) -> dict:
    """Encode the video ``src`` (file, image folder; see :func:`rac_video.io.open_video`) to ``out_path``.

    Returns a report: header, per-frame stats, totals, speed; with ``keep_frames`` also the source
    frames and importance maps (for metrics and overlays; memory grows with the video).
    ``importance_source``: an object with ``kind`` and ``step(frame) -> ImportanceFrame``, used instead of
    ``opts.importance`` (which still names it in the header).
    """
    from .io import open_video

    opts = opts or EncodeOptions()
    opts.check()
    reader = open_video(src, max_frames=opts.max_frames, fps=opts.fps)
    W, H, fps = reader.width, reader.height, Fraction(reader.fps)
    try:
        check_fps(fps, f"the frame rate of {src}")  # (a stream a decoder would refuse is never written)
    except PipelineError:
        reader.close()
        raise
    codec = codec or load_model(opts.model, device=opts.device)
    isrc = importance_source or open_source(opts.importance, (H, W), float(fps), levels=codec.levels,
                                            **opts.importance_kw)
    enc = FrameEncoder(codec, W, H, fps, opts)
    header = header_for(codec, W, H, fps, opts)

    def produce(put):
        for index, pts_s, frame in staged(reader, "read"):
            if frame.shape[:2] != (H, W):
                raise PipelineError(f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, the stream is {W}x{H}")
            with stage("importance"):
                imp = isrc.step(frame)
            if not put((index, int(round(pts_s * fps)), frame, imp)):
                return

    frames_kept, maps_kept, stats = [], [], []
    pump = _Pump(produce, opts.queue_size)
    t_start = time.perf_counter()
    bar = _bar(progress, reader.num_frames, "encode")
    try:
        with Writer(out_path, header) as writer:
            sink = _Sink(writer.write, opts.queue_size)
            sink.start()
            pump.start()
            try:
                for index, pts, frame, imp in pump:
                    pkt, st = enc.encode(frame, imp, index, pts)
                    sink.put(pkt)
                    stats.append(st)
                    if keep_frames:
                        frames_kept.append(frame)
                        maps_kept.append(imp.map)
                    bar.update(1)
            finally:
                sink.finish()
    finally:
        pump.close()
        bar.close()
    seconds = time.perf_counter() - t_start
    if not stats:
        raise PipelineError(f"{src}: no frames decoded")
    report = _summary(header, stats, seconds, os.path.getsize(out_path), opts)
    if isrc.kind == "gaze":  # tracker loss (the gaze policy in importance.source): counted, never silent
        report["gaze_lost_frames"] = int(isrc.lost_frames)
    if keep_frames:
        report["_frames"], report["_maps"] = frames_kept, maps_kept
    return report


def _summary(header: Header, stats, seconds, file_bytes, opts) -> dict:
    fps = header.fps_num / header.fps_den
    n = len(stats)
    tot = {k: int(sum(s[k] for s in stats)) for k in ("bytes", "payload_bytes", "side_info_bytes", "header_bytes")}
    kbps = 8 * file_bytes / 1000 / (n / fps)
    out = {"model": header.model, "weights_hash": header.weights_hash, "width": header.width,
           "height": header.height, "fps": fps, "frames": n, "file_bytes": int(file_bytes),
           "container_overhead_bytes": int(file_bytes - tot["bytes"]), **{f"total_{k}": v for k, v in tot.items()},
           "bits_per_frame": {"payload": 8 * tot["payload_bytes"] / n, "side_info": 8 * tot["side_info_bytes"] / n,
                              "headers": 8 * (tot["header_bytes"] + file_bytes - tot["bytes"]) / n},
           "bpp": 8 * file_bytes / (n * header.width * header.height), "kbps": kbps,
           "encode_seconds": seconds, "encode_fps": n / seconds if seconds > 0 else None,
           "quality_mean": float(np.mean([s["quality"] for s in stats])), "settings": header.settings,
           "p_frames": sum(s.get("type") == "P" for s in stats),
           "per_frame": stats}
    if opts.bitrate_kbps:
        out["target_kbps"] = float(opts.bitrate_kbps)
        out["rate_error"] = kbps / float(opts.bitrate_kbps) - 1
    return out


# ---------------------------------------------------------------------------------------------- decode
#: x264 preset of decode's mp4 output (CRF 12): "veryfast" costs a third of "medium"'s time per frame for about
#: 1 dB less PSNR of the copy (≈ 37.7 vs 38.7 dB on BasketballPass, far above the codec's own 23–30 dB); a
#: decode that is measured should write FFV1 (``lossless``) anyway.
OUTPUT_PRESET = "veryfast"


def decode_video(racv_path, out_path, *, steps: int | None = None, realism: float | None = None,
                 skip_damaged: bool = False,
                 lossless: bool = False, progress: bool = True, device: str = "cpu",
                 codec: Codec | None = None, keep_frames: bool = False) -> dict:
    """Decode ``racv_path`` to the video ``out_path`` (mp4/mkv; ``lossless`` for FFV1/x264-qp0).

    Every frame the stream declares is written (``container.FramePlan``): with ``skip_damaged`` a frame
    that was lost or does not decode is replaced by the previous frame (``"previous"``), or by a mid-grey
    frame when there is none yet (``"grey"``), so the output keeps the stream's length and timing. The
    report's ``skipped`` lists each replaced frame with its reason, ``end_lost`` says the stream was cut
    after its last frame (how many frames followed is unknown), ``damaged`` is True when either is set
    (the command's exit code 3)."""
    from .io import VideoWriter

    t_start = time.perf_counter()
    steps = check_steps(steps)
    reader = Reader(racv_path, skip_damaged=skip_damaged)
    try:
        hdr = reader.header
        check_header(hdr)
        codec = codec or load_model(hdr.model, device=device)
        dec = FrameDecoder(codec, hdr, steps=steps, realism=realism)
    except BaseException:
        reader.close()
        raise
    fps = Fraction(hdr.fps_num, hdr.fps_den)
    plan = FramePlan(reader)
    decoded, times, kept, replaced = 0, [], [], {}

    def produce(put):
        # the entropy half runs here, ahead of the pixel networks in the calling thread (FrameDecoder.entropy)
        for index, pkt in staged(plan, "read"):
            ent = None
            if pkt is not None:
                t0 = time.perf_counter()
                try:
                    ent = dec.entropy(pkt)
                except CorruptPacketError as exc:
                    ent = exc
                ent_s = time.perf_counter() - t0
            if not put((index, pkt, ent, ent_s if pkt is not None else 0.0)):
                return

    pump = _Pump(produce, 4)
    bar = _bar(progress, len(reader) if reader.has_index else None, "decode")
    last = None
    try:
        with VideoWriter(out_path, hdr.width, hdr.height, fps, codec="ffv1" if lossless else "libx264",
                         preset=OUTPUT_PRESET) as vw:
            sink = _Sink(vw.write, 4)
            sink.start()
            pump.start()
            try:
                for index, pkt, ent, ent_s in pump:
                    frame = None
                    if isinstance(ent, CorruptPacketError):
                        if not skip_damaged:
                            raise ent
                        plan.mark(index, f"undecodable: {ent}")
                    elif ent is not None:
                        t0 = time.perf_counter()
                        frame = dec.picture(ent)
                        times.append(ent_s + time.perf_counter() - t0)
                    if frame is None:  # lost or undecodable: keep the timing with a stand-in
                        if last is None:
                            last = np.full((hdr.height, hdr.width, 3), 128, np.uint8)
                            replaced[index] = "grey"
                        else:
                            replaced[index] = "previous"
                    else:
                        last = frame
                    sink.put(last)
                    decoded += 1
                    if keep_frames:
                        kept.append(last)
                    bar.update(1)
            finally:
                sink.finish()
    finally:
        pump.close()
        bar.close()
        reader.close()
    skipped = sorted(({**e, "replaced_with": replaced.get(e["frame"], "dropped")} for e in plan.skipped),
                     key=lambda e: e["frame"])
    seconds = time.perf_counter() - t_start
    out = {"frames": decoded, "damaged": bool(plan.damaged), "damaged_frames": sorted({e["frame"] for e in skipped}),
           "skipped": skipped, "end_lost": plan.end_lost, "errors": plan.errors, "decode_seconds": seconds,
           "decode_fps": decoded / seconds if seconds > 0 else None,
           "codec_ms_per_frame": 1e3 * float(np.mean(times)) if times else None, "width": hdr.width,
           "height": hdr.height, "fps": float(fps), "output": str(out_path)}
    if keep_frames:
        out["_frames"] = kept
    return out


def _bar(enabled, total, desc):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not enabled, mininterval=1.0)
