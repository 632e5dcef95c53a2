"""Baseline codecs on the same frames and importance maps as ours, through PyAV's bundled encoders.

* ``VideoBaseline(codec, intra, roi)`` — libx264 / libx265 / libsvtav1 with a constant-quality (CRF)
  parameter, intra-only (every frame a key frame) or a normal GOP (the encoder's defaults), optionally
  with the importance map turned into block QP offsets: per 16×16 block, offset = round(strength ·
  (0.5 − mean importance)) QP (more bits where it matters, fewer elsewhere), attached to each frame as
  regions of interest through an ``av.filter.Graph`` of ``addroi`` filters (libavcodec maps
  ``qoffset`` ∈ [-1, 1] to ±51 QP). x264 and x265 honour these ROI offsets (adaptive quantization stays
  on); SVT-AV1 in PyAV ignores them, so it is only offered without ROI.
* ``JpegBaseline`` — every frame a baseline JPEG (Pillow, 4:2:0, optimized Huffman tables); the
  parameter is the JPEG quality.

Every byte is counted: for video the whole elementary stream (all packets, parameter sets included);
for JPEG the sum of the JPEG files. Frames: uint8 RGB (T,H,W,3) with even H and W (4:2:0).
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

QP_RANGE = 51  # libavcodec: ROI qoffset in [-1, 1] is scaled by the codec's QP range (51 at 8 bits)
ROI_BLOCK = 16


class BaselineError(ValueError):
    """Bad input for a baseline encoder or an encoder that is not available."""


@dataclass
class Encoded:
    """One encoding of a sequence: its total size and how to decode it."""

    nbytes: int
    param: float
    _decode: object = field(repr=False)
    info: dict = field(default_factory=dict)

    def decode(self) -> np.ndarray:
        return self._decode()


def _check_frames(frames):
    f = np.asarray(frames)
    if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
        raise BaselineError(f"frames must be uint8 (T,H,W,3), got {f.dtype} {f.shape}")
    if len(f) == 0:
        raise BaselineError("no frames")
    if f.shape[1] % 2 or f.shape[2] % 2:
        raise BaselineError(f"frame size must be even for 4:2:0, got {f.shape[2]}x{f.shape[1]}")
    return f


# ---------------------------------------------------------------------------------------------- ROI
def roi_offsets(importance, strength=12.0, block=ROI_BLOCK) -> np.ndarray:
    """Integer QP offset per block (ceil(H/block), ceil(W/block)) from an (H,W) importance map in [0,1]:
    round(strength · (0.5 − block mean)); negative = finer quantization."""
    m = np.asarray(importance, dtype=np.float64)
    if m.ndim != 2:
        raise BaselineError(f"importance map must be (H,W), got {m.shape}")
    H, W = m.shape
    bh, bw = -(-H // block), -(-W // block)
    pad = np.pad(m, ((0, bh * block - H), (0, bw * block - W)), mode="edge")
    means = pad.reshape(bh, block, bw, block).mean(axis=(1, 3))
    off = np.rint(strength * (0.5 - np.clip(means, 0.0, 1.0))).astype(np.int32)
    return np.clip(off, -QP_RANGE, QP_RANGE)


def roi_regions(offsets, frame_hw, block=ROI_BLOCK):
    """Rectangles (x, y, w, h, qp_offset) covering the non-zero offsets: runs of equal offset along each
    block row, merged down when the next rows repeat the same run."""
    H, W = frame_hw
    runs = {}
    out = []
    for by, row in enumerate(np.asarray(offsets)):
        bx = 0
        row_runs = []
        while bx < len(row):
            v = int(row[bx])
            e = bx
            while e + 1 < len(row) and row[e + 1] == v:
                e += 1
            if v != 0:
                row_runs.append((bx, e, v))
            bx = e + 1
        new_runs = {}
        for r in row_runs:
            if r in runs:
                new_runs[r] = runs.pop(r)
                new_runs[r][1] = by
            else:
                new_runs[r] = [by, by]
        for (x0, x1, v), (y0, y1) in runs.items():
            out.append((x0, y0, x1, y1, v))
        runs = new_runs
    for (x0, x1, v), (y0, y1) in runs.items():
        out.append((x0, y0, x1, y1, v))
    rects = []
    for x0, y0, x1, y1, v in sorted(out, key=lambda r: (r[1], r[0])):
        x, y = x0 * block, y0 * block
        w, h = min(W, (x1 + 1) * block) - x, min(H, (y1 + 1) * block) - y
        rects.append((x, y, w, h, v))
    return rects


def _attach_roi(frame, rects, time_base):
    """Return a copy of the av.VideoFrame carrying the ROI side data (through addroi filters)."""
    import av.filter

    g = av.filter.Graph()
    last = g.add_buffer(width=frame.width, height=frame.height, format=frame.format.name, time_base=time_base)
    for x, y, w, h, v in rects:
        f = g.add("addroi", f"x={x}:y={y}:w={w}:h={h}:qoffset={Fraction(v, QP_RANGE)}:clear=0")
        last.link_to(f)
        last = f
    sink = g.add("buffersink")
    last.link_to(sink)
    g.configure()
    g.push(frame)
    return g.pull()


# ---------------------------------------------------------------------------------------------- video
_DECODERS = {"libx264": "h264", "libx265": "hevc", "libsvtav1": "libdav1d"}
_ROI_CAPABLE = {"libx264", "libx265"}
_PARAM = {  # name, lo, hi, integer, default start
    "libx264": ("crf", 0.0, 51.0, False, 28.0),
    "libx265": ("crf", 0.0, 51.0, False, 30.0),
    "libsvtav1": ("crf", 1.0, 63.0, True, 40.0),
}


class VideoBaseline:
    """A PyAV video encoder at a CRF, intra-only or normal GOP, with or without ROI QP offsets."""

    def __init__(self, codec="libx264", *, intra=False, roi=False, preset=None, roi_strength=12.0, fps=25, threads=1,
                 low_delay=False):
        """``low_delay``: the configuration of live streaming and of our P-frames (each frame predicted
        from earlier ones only, sent as soon as coded): no B-frames, ``tune=zerolatency`` (no lookahead);
        named ``<codec>-ld``."""
        import av

        if codec not in _DECODERS:
            raise BaselineError(f"unknown codec {codec!r} (one of {sorted(_DECODERS)})")
        if codec not in av.codecs_available:
            raise BaselineError(f"{codec} is not in this PyAV build")
        if roi and codec not in _ROI_CAPABLE:
            raise BaselineError(f"{codec} ignores ROI side data in PyAV; use it without roi")
        if low_delay and intra:
            raise BaselineError("an intra-only coding is low delay already: use -intra or -ld, not both")
        if low_delay and codec not in ("libx264", "libx265"):
            raise BaselineError(f"low delay (-ld) is defined for x264 and x265, not {codec}")
        self.codec, self.intra, self.roi, self.low_delay = codec, bool(intra), bool(roi), bool(low_delay)
        self.preset = preset if preset is not None else ("8" if codec == "libsvtav1" else "medium")
        self.roi_strength = float(roi_strength)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.threads = int(threads)
        short = {"libx264": "x264", "libx265": "x265", "libsvtav1": "svtav1"}[codec]
        self.name = short + ("-intra" if intra else "") + ("-ld" if low_delay else "") + ("-roi" if roi else "")
        pname, self.lo, self.hi, self.integer, self.start = _PARAM[codec]
        self.param_name = pname
        self.decreasing = True  # higher CRF -> smaller stream

    def describe(self) -> dict:
        import av

        return {
            "name": self.name, "codec": self.codec, "intra": self.intra, "low_delay": self.low_delay, "roi": self.roi,
            "preset": self.preset,
            "roi_strength": self.roi_strength if self.roi else None, "roi_block": ROI_BLOCK if self.roi else None,
            "param": self.param_name, "pyav": av.__version__, "threads": self.threads,
        }

    def _options(self, param):
        p = int(round(param)) if self.integer else round(float(param), 3)
        opts = {"crf": str(p), "preset": self.preset}
        if self.codec == "libx265":
            opts["x265-params"] = "log-level=error" + (":keyint=1:min-keyint=1" if self.intra else "")
        if self.codec == "libsvtav1":
            opts["svtav1-params"] = "keyint=1" if self.intra else ""
            if not opts["svtav1-params"]:
                del opts["svtav1-params"]
        if self.codec == "libx264" and self.intra:
            opts["x264-params"] = "keyint=1:min-keyint=1"
        if self.low_delay:              # zerolatency: no B-frames, no lookahead, no frame threads
            opts["tune"] = "zerolatency"
            if self.codec == "libx264":
                opts["x264-params"] = "bframes=0"
            else:
                opts["x265-params"] += ":bframes=0"
        return opts

    def encode(self, frames, importance=None, param=None) -> Encoded:
        import av

        f = _check_frames(frames)
        T, H, W, _ = f.shape
        param = self.start if param is None else float(param)
        if self.roi:
            if importance is None:
                raise BaselineError(f"{self.name} needs importance maps")
            imp = np.asarray(importance, dtype=np.float32)
            if imp.ndim == 2:
                imp = np.broadcast_to(imp, (T, H, W))
            if imp.shape != (T, H, W):
                raise BaselineError(f"importance of shape {imp.shape} does not match frames {(T, H, W)}")
        ctx = av.CodecContext.create(self.codec, "w")
        ctx.width, ctx.height, ctx.pix_fmt = W, H, "yuv420p"
        ctx.time_base = 1 / self.fps
        ctx.framerate = self.fps
        ctx.thread_count = self.threads
        if self.intra:
            ctx.gop_size = 1
        ctx.options = self._options(param)
        packets = []
        frame_bytes = np.zeros(T, dtype=np.int64)  # bytes of each frame's packet, by presentation time

        def take(pkts):
            for p in pkts:
                b = bytes(p)
                packets.append(b)
                if p.pts is not None and 0 <= int(p.pts) < T:
                    frame_bytes[int(p.pts)] += len(b)

        n_regions = 0
        for t in range(T):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[t]), format="rgb24").reformat(format="yuv420p")
            vf.pts = t
            if self.roi:
                rects = roi_regions(roi_offsets(imp[t], self.roi_strength), (H, W))
                n_regions += len(rects)
                if rects:
                    vf = _attach_roi(vf, rects, ctx.time_base)
                    vf.pts = t
            take(ctx.encode(vf))
        take(ctx.encode(None))
        nbytes = sum(len(p) for p in packets)
        decoder = _DECODERS[self.codec]

        def decode():
            dec = av.CodecContext.create(decoder, "r")
            out = []
            for p in packets:
                out.extend(dec.decode(av.Packet(p)))
            out.extend(dec.decode(None))
            if len(out) != T:
                raise BaselineError(f"{self.name}: decoded {len(out)} frames, expected {T}")
            return np.stack([fr.to_ndarray(format="rgb24") for fr in out])

        info = {"packets": len(packets), "roi_regions_per_frame": n_regions / T if self.roi else None,
                "frame_bytes": frame_bytes.tolist()}
        return Encoded(nbytes=nbytes, param=param, _decode=decode, info=info)


# ---------------------------------------------------------------------------------------------- JPEG
class JpegBaseline:
    """Every frame a JPEG (Pillow, 4:2:0, optimized). The parameter p in [1, 95] may be fractional:
    frames use quality floor(p) or floor(p)+1, the share frac(p) of them (spread evenly) the higher one,
    so that the total size can be matched closely."""

    name = "jpeg"
    param_name = "quality"
    lo, hi, integer, start = 1.0, 95.0, False, 50.0
    decreasing = False  # higher quality -> bigger files

    def describe(self) -> dict:
        import PIL

        return {"name": self.name, "codec": "jpeg", "pillow": PIL.__version__, "subsampling": "4:2:0",
                "param": self.param_name}

    @staticmethod
    def qualities(param, n):
        p = float(param)
        if not 1.0 <= p <= 95.0:
            raise BaselineError("JPEG quality must be in 1..95")
        q0 = int(np.floor(p))
        frac = p - q0
        if q0 == 95:
            return [95] * n
        return [q0 + int(np.floor((t + 1) * frac) > np.floor(t * frac)) for t in range(n)]

    def encode(self, frames, importance=None, param=None) -> Encoded:
        from PIL import Image

        f = _check_frames(frames)
        qs = self.qualities(self.start if param is None else param, len(f))
        files = []
        for t in range(len(f)):
            buf = io.BytesIO()
            Image.fromarray(f[t]).save(buf, format="JPEG", quality=qs[t], subsampling=2, optimize=True)
            files.append(buf.getvalue())

        def decode():
            return np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in files])

        p = float(self.start if param is None else param)
        return Encoded(nbytes=sum(len(b) for b in files), param=p, _decode=decode,
                       info={"qualities": sorted(set(qs))})


# ---------------------------------------------------------------------------------------------- registry
def available_baselines() -> list:
    import av

    names = ["jpeg"]
    for codec, short in (("libx264", "x264"), ("libx265", "x265"), ("libsvtav1", "svtav1")):
        if codec in av.codecs_available:
            for intra in ("", "-intra") + (("-ld",) if codec != "libsvtav1" else ()):
                names.append(short + intra)
                if codec in _ROI_CAPABLE:
                    names.append(short + intra + "-roi")
    return names


def make_baseline(name: str, **kw):
    """'jpeg', or '<x264|x265|svtav1>[-intra|-ld][-roi]' with VideoBaseline keyword options."""
    if name == "jpeg":
        return JpegBaseline()
    parts = name.split("-")
    codec = {"x264": "libx264", "x265": "libx265", "svtav1": "libsvtav1"}.get(parts[0])
    rest = set(parts[1:])
    if codec is None or not rest <= {"intra", "ld", "roi"} or len(rest) != len(parts) - 1:
        raise BaselineError(f"unknown baseline {name!r}; known: {available_baselines()}")
    return VideoBaseline(codec, intra="intra" in rest, roi="roi" in rest, low_delay="ld" in rest, **kw)
