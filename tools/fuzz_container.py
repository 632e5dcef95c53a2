"""Structure-aware fuzzer for the ``.racv`` container, its settings JSON, the importance side information
and the stream framing.

Each case starts from a valid stream (built here from a structured description: header fields, settings
JSON, packets with real side information, the index trailer), mutates **fields** — lengths, counts,
indices, frame size, frame rate, stream id, version, the settings JSON (deep nesting, NaN/Infinity,
huge numbers, wrong types), the side-info bytes — and re-serialises it with the CRCs **recomputed**
(so the parsers behind the checksums are reached), or leaves some CRCs stale, and then may apply raw
byte mutations on top (bit flips, truncation, insertion, splices of two streams, duplicated packets,
appended junk). Every case runs through what a decoder runs before the codec: ``Reader`` (strict and
``skip_damaged``, seekable and as a pipe), ``FramePlan``, ``rac-video info``'s ``describe``,
``pipeline.check_header``, ``sideinfo.from_bytes(...).levels(...)`` at the stream's latent size, and
the stream client's message parsing (``framing.parse_frame`` on FRAME bodies).

Oracles (a violation is a *finding*, saved with its bytes):

* **crash**: any exception that is not the documented error type (``ValueError`` family: ContainerError,
  SideInfoError, PipelineError, ProtocolError), e.g. TypeError, OverflowError, RecursionError,
  MemoryError, IndexError;
* **hang / slow**: a case taking longer than ``--slow`` seconds (default 2 s);
* **memory**: with ``--max-rss-mb`` the process is limited (RLIMIT_AS) and a MemoryError is a crash;
* **silent loss or substitution**: a stream read with ``skip_damaged`` whose plan reports no damage
  must deliver frames 0..n-1 in order, and when the case was byte-mutated only (no CRC recomputed)
  and still carries the original header (its stream id), exactly the original packets (no frame lost,
  none substituted; without an index trailer: a prefix of them).

Usage::

    python tools/fuzz_container.py --seconds 60                     # bounded run, prints cases/s
    python tools/fuzz_container.py --cases 1000000 --out fuzz-out   # the long run (docs/container.md)

Exit status: 0 when no finding, 1 otherwise (findings in ``--out``, default ``fuzz-findings``).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import struct
import sys
import time
import zlib

import numpy as np


from rac_video import pipeline  # noqa: E402
from rac_video.commands.info import describe  # noqa: E402
from rac_video.container import FramePlan, Reader  # noqa: E402
from rac_video.importance import sideinfo  # noqa: E402
from rac_video.importance.foveation import GAZECOM_DISPLAY  # noqa: E402
from rac_video.stream import framing  # noqa: E402

_U32 = (1 << 32) - 1
INTERESTING = [0, 1, 2, 7, 8, 15, 16, 17, 255, 256, 1023, 4095, 65535, 65536, 1 << 20, (1 << 28) + 1, 1 << 31,
               _U32 - 16, _U32 - 1, _U32]


def crc(b) -> int:
    return zlib.crc32(b) & 0xFFFFFFFF


# ------------------------------------------------------------------------------------ structured streams

def _side_infos(rng: random.Random, latent_hw, frame_hw, levels=16):
    h, w = latent_hw
    H, W = frame_hw
    kind = rng.randrange(4)
    if kind == 0:
        lv = np.full((h, w), rng.randrange(levels), np.uint8)
    elif kind == 1:
        lv = np.asarray(np.random.default_rng(rng.randrange(1 << 30)).integers(0, levels, (h, w)), np.uint8)
    elif kind == 2:
        lv = np.zeros((h, w), np.uint8)
        lv[: h // 2, : w // 2] = levels - 1
    else:
        pts = np.array([[rng.uniform(0, W - 1), rng.uniform(0, H - 1)]])
        return sideinfo.FoveatedGaze(pts, (H, W), display=GAZECOM_DISPLAY, n_levels=levels).to_bytes()
    return sideinfo.RasterLevels(lv, levels).to_bytes()


def seed_stream(rng: random.Random) -> dict:
    """A valid stream as fields (format 2.0; ``major`` 1 for the old layout without stream ids)."""
    W, H = rng.choice([(32, 24), (41, 30), (64, 48), (17, 9)])
    latent = (-(-H // 8), -(-W // 8))
    n = rng.randrange(0, 6)
    sid = rng.randrange(1, _U32)
    settings = {"steps": rng.randrange(0, 4), "seed": rng.randrange(0, 1000), "levels": 16, "dither_frame": 0,
                "importance": "gaze", "rate_control": {"mode": "quality", "quality": 8}}
    pk = []
    for i in range(n):
        payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        pk.append({"index": i, "pts": i, "quality": rng.randrange(16), "flags": 0, "side": _side_infos(rng, latent, (H, W)),
                   "payload": payload, "sid": sid})
    return {"major": 2, "minor": 0, "flags": 1 if rng.random() < 0.8 else 0, "width": W, "height": H,
            "fps_num": rng.choice([25, 30000, 50]), "fps_den": rng.choice([1, 1001]), "model": "rand-a",
            "hash": bytes(range(32)), "color": "rgb24", "settings": json.dumps(settings, sort_keys=True).encode(),
            "sid": sid, "packets": pk, "trailer": None, "junk": b"", "blen": None, "crc": {}}


def build(s: dict) -> bytes:
    """Serialise a stream description; ``s["crc"]`` may hold stale-CRC switches, ``blen`` overrides."""
    model, color = s["model"].encode() if isinstance(s["model"], str) else s["model"], s["color"].encode()
    body = struct.pack("<IIII", s["width"], s["height"], s["fps_num"], s["fps_den"]) + bytes([len(model) & 255]) + \
        model + s["hash"] + bytes([len(color) & 255]) + color + struct.pack("<I", len(s["settings"]) & _U32) + \
        s["settings"] + (struct.pack("<I", s["sid"] & _U32) if s["major"] >= 2 else b"") + s.get("hext", b"")
    blen = len(body) if s["blen"] is None else s["blen"]
    head = b"RACV" + bytes([s["major"] & 255, s["minor"] & 255]) + struct.pack("<HI", s["flags"] & 0xFFFF, blen & _U32)
    out = bytearray(head + body)
    out += struct.pack("<I", crc(out) ^ (1 if s["crc"].get("header") else 0))
    entries = []
    for p in s["packets"]:
        ext = struct.pack("<I", p["sid"] & _U32) if p.get("sid") else b""
        ext += p.get("ext", b"")
        fields = struct.pack("<qHHIH", p["pts"], p["quality"] & 0xFFFF, p["flags"] & 0xFFFF,
                             p.get("slen", len(p["side"])) & _U32, p.get("elen", len(ext)) & 0xFFFF)
        rest = fields + ext + p["side"] + p["payload"]
        fixed = b"RVPK" + struct.pack("<II", p.get("blen", len(rest)) & _U32, p["index"] & _U32)
        hc = crc(fixed) ^ (1 if p.get("stale_head") else 0)
        pkt = fixed + struct.pack("<I", hc) + rest
        entries.append((p["index"] & _U32, len(out), p["pts"]))
        out += pkt + struct.pack("<I", crc(pkt) ^ (1 if p.get("stale") else 0))
    if s["flags"] & 1:
        t = s["trailer"] or {}
        ents = t.get("entries", entries)
        ih = b"RVIX" + struct.pack("<I", t.get("count", len(ents)) & _U32) + \
            b"".join(struct.pack("<IQq", *e) for e in ents)
        off = t.get("offset", len(out))
        seed = struct.pack("<I", s["sid"] & _U32) if s["major"] >= 2 and s["sid"] & _U32 else b""  # 2.0
        ic = zlib.crc32(ih, zlib.crc32(seed)) & 0xFFFFFFFF
        out += ih + struct.pack("<IQ4s", ic ^ (1 if t.get("stale") else 0), off, t.get("end", b"RVND"))
    return bytes(out + s["junk"])


def _json_mutation(rng: random.Random) -> bytes:
    k = rng.randrange(12)
    depth = rng.choice([15, 16, 17, 40, 1000, 100000])
    return [
        lambda: b"[" * depth + b"]" * depth,
        lambda: b'{"a":' * depth + b"1" + b"}" * depth,
        lambda: b'{"seed":Infinity,"steps":0}', lambda: b'{"seed":NaN}', lambda: b'{"seed":-Infinity}',
        lambda: b'{"seed":1e400,"steps":1}', lambda: b'{"seed":' + b"9" * rng.choice([20, 5000]) + b"}",
        lambda: json.dumps({"seed": rng.choice([None, [1], {"a": 1}, "x", True, -1, 2**40, 1.5]),
                            "steps": rng.choice([0, 1, 64, 65, 100000, -1, None, "1", 2.0])}).encode(),
        lambda: b"[]", lambda: b"\xff\xfe", lambda: b"{" + b" " * rng.randrange(100) + b"}",
        lambda: json.dumps({"levels": rng.choice([0, 1, 15, 17, 256, 1 << 40]),
                            "dither_frame": rng.choice([-1, 0, 2**32, None])}).encode(),
    ][k]()


def mutate_fields(rng: random.Random, s: dict) -> None:
    """One structural mutation (CRCs are recomputed by build unless a stale switch is set)."""
    pk = s["packets"]
    choice = rng.randrange(24)
    if choice == 0:
        s[rng.choice(["width", "height"])] = rng.choice(INTERESTING)
    elif choice == 1:
        s[rng.choice(["fps_num", "fps_den"])] = rng.choice(INTERESTING)
    elif choice == 2:
        s["model"] = rng.choice(["", "m" * 255, "../../etc/passwd", "a b", "ü", "rand-a\x00", "rac-tiny-v5"])
    elif choice == 3:
        s["settings"] = _json_mutation(rng)
    elif choice == 4:
        s["sid"] = rng.choice([0, 1, _U32, rng.randrange(_U32)])
    elif choice == 5:  # the old 1.x layout (no stream ids), or another minor
        if rng.random() < 0.5:
            s["major"] = 1
            for p in pk:
                p["sid"] = 0
        else:
            s["minor"] = rng.choice([1, 2, 255])
    elif choice == 6:
        s["major"] = rng.choice([0, 3, 255])
    elif choice == 7:
        s["blen"] = rng.choice(INTERESTING)
    elif choice == 8:
        s["flags"] = rng.choice([0, 1, 0xFFFF])
    elif choice == 9:
        s["hext"] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 20)))
    elif pk and choice == 10:
        rng.choice(pk)["index"] = rng.choice(INTERESTING + [len(pk), 1_000_004])
    elif pk and choice == 11:
        rng.choice(pk)["pts"] = rng.choice([-(1 << 63), -1, 0, (1 << 63) - 1])
    elif pk and choice == 12:
        rng.choice(pk)["quality"] = rng.choice([16, 255, 65535])
    elif pk and choice == 13:
        rng.choice(pk)["slen"] = rng.choice(INTERESTING)
    elif pk and choice == 14:
        rng.choice(pk)["elen"] = rng.choice([0, 1, 3, 4, 5, 65535])
    elif pk and choice == 15:
        rng.choice(pk)["blen"] = rng.choice(INTERESTING)
    elif pk and choice == 16:
        rng.choice(pk)["sid"] = rng.choice([0, s["sid"] ^ 1, rng.randrange(_U32)])
    elif pk and choice == 17:  # side info: bytes mutated behind a valid CRC
        p = rng.choice(pk)
        b = bytearray(p["side"])
        for _ in range(rng.randrange(1, 4)):
            if b:
                b[rng.randrange(len(b))] = rng.choice([0, 1, 2, 16, 17, 255, rng.randrange(256)])
        if rng.random() < 0.3:
            b = b[:rng.randrange(len(b) + 1)]
        p["side"] = bytes(b)
    elif pk and choice == 18:  # side info: a raster with too many levels or a huge declared size
        p = rng.choice(pk)
        L, h, w = rng.choice([(17, 3, 4), (255, 3, 4), (16, 65535, 65535), (16, 4096, 4097), (1, 1, 1)])
        p["side"] = struct.pack("<BBBHHB", 1, 1, L, h, w, rng.randrange(6)) + bytes(rng.randrange(256) for _ in range(8))
    elif pk and choice == 19:
        p = rng.choice(pk)
        p["stale" if rng.random() < 0.5 else "stale_head"] = True
    elif choice == 20:
        t = s["trailer"] = {}
        which = rng.randrange(4)
        if which == 0:
            t["count"] = rng.choice(INTERESTING)
        elif which == 1:
            t["offset"] = rng.choice([0, 1, 12, 1 << 40])
        elif which == 2:
            t["end"] = b"RVNX"
        else:
            t["entries"] = [(rng.choice(INTERESTING), rng.randrange(1 << 20), 0) for _ in range(rng.randrange(4))]
    elif choice == 21:
        s["junk"] = rng.choice([b"junk", b"RVPK" + bytes(12), b"RVIX", bytes(rng.randrange(1, 50))])
    elif pk and choice == 22:  # a gap, or frames out of order
        i = rng.randrange(len(pk))
        for p in pk[i:]:
            p["index"] = (p["index"] + rng.choice([1, 3, 3000, 3001, 1 << 31])) & _U32
    else:
        s["crc"]["header"] = True


def mutate_bytes(rng: random.Random, data: bytes, other: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        k = rng.randrange(6)
        if k == 0 and b:
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        elif k == 1:
            b = b[:rng.randrange(len(b) + 1)]
        elif k == 2:
            a = rng.randrange(len(b) + 1)
            b[a:a] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 30)))
        elif k == 3:  # splice: this stream's start, another stream's rest
            cut, cut2 = rng.randrange(len(b) + 1), rng.randrange(len(other) + 1)
            b = b[:cut] + bytearray(other[cut2:])
        elif k == 4 and len(b) > 8:  # duplicate a range (e.g. a packet)
            a = rng.randrange(len(b))
            z = min(len(b), a + rng.randrange(1, 80))
            b[z:z] = b[a:z]
        elif b:
            a = rng.randrange(len(b))
            del b[a:a + rng.randrange(1, 30)]
    return bytes(b)


# ------------------------------------------------------------------------------------ the target

ALLOWED = (ValueError,)  # ContainerError, SideInfoError, PipelineError, ProtocolError, GazeError are ValueErrors


class Pipe(io.RawIOBase):
    def __init__(self, data, step):
        self._d, self._step = io.BytesIO(data), step

    def readable(self):
        return True

    def readinto(self, b):
        x = self._d.read(min(len(b), self._step))
        b[:len(x)] = x
        return len(x)


def _plan(data: bytes, skip: bool, pipe: bool):
    src = io.BufferedReader(Pipe(data, 97)) if pipe else io.BytesIO(data)
    r = Reader(src, skip_damaged=skip)
    p = FramePlan(r)
    return r, p, list(p)


def run_case(data: bytes, original_packets, raw_only: bool, tmpfile: str, orig_sid=None) -> str | None:
    """Run every consumer on ``data``; None when all is well, else a description of the finding.
    ``orig_sid``: the original stream's id — a splice can leave the *other* stream whole (its header
    and everything after it), a valid stream of its own that is not compared with the original."""
    delivered = None
    for skip, pipe in ((False, False), (True, False), (True, True)):
        try:
            r, p, items = _plan(data, skip, pipe)
        except ALLOWED:
            continue
        idx = [i for i, _ in items]
        if idx != list(range(len(idx))):
            return f"plan not contiguous from 0 (skip={skip}): {idx[:10]}"
        if skip and not p.damaged:
            if any(pk is None for _, pk in items):
                return "frames replaced but the plan reports no damage"
            got = [(pk.index, pk.pts, pk.quality, pk.side_info, pk.payload) for _, pk in items]
            # byte damage only: the original packets exactly — or, for a stream without an index trailer
            # (which may end at any packet), a prefix of them
            exact = bool(r.header.flags & 1)
            same = orig_sid is None or r.header.stream_id == orig_sid
            if raw_only and same and (got != original_packets if exact else got != original_packets[:len(got)]):
                return f"silent loss or substitution: {len(got)} frames delivered, {len(original_packets)} written"
        if skip and not pipe:
            delivered = (r.header, [pk for _, pk in items if pk is not None])
        if not skip and p.damaged:
            return "strict reader reported damage without raising"
    if delivered is not None:
        h, pkts = delivered
        try:
            pipeline.check_header(h)
        except ALLOWED:
            pass
        latent = (-(-h.height // 8), -(-h.width // 8))
        for pk in pkts[:8]:
            try:
                sideinfo.from_bytes(pk.side_info).levels(latent)
            except ALLOWED:
                pass
            body = framing.Timing(pk.index, -1, *([0.0] * 8), 0).to_bytes() + pk.to_bytes()
            try:
                framing.parse_frame(body)
                framing.parse_frame(body[:len(body) // 2])
            except ALLOWED:
                pass
    with open(tmpfile, "wb") as f:
        f.write(data)
    try:
        json.dumps(describe(tmpfile))
    except ALLOWED:
        pass
    return None


def fuzz(seconds: float | None = None, cases: int | None = None, seed: int = 0, out: str | None = None,
         slow_s: float = 2.0, log=print) -> dict:
    import tempfile

    rng = random.Random(seed)
    findings, n, t0 = [], 0, time.perf_counter()
    slowest = 0.0
    tmpdir = tempfile.mkdtemp(prefix="fuzz-racv-")
    tmpfile = os.path.join(tmpdir, "case.racv")
    try:
        while (cases is None or n < cases) and (seconds is None or time.perf_counter() - t0 < seconds):
            s = seed_stream(rng)
            orig = [(p["index"], p["pts"], p["quality"], p["side"], p["payload"]) for p in s["packets"]]
            raw_only = rng.random() < 0.35
            if not raw_only:
                for _ in range(rng.randrange(1, 3)):
                    mutate_fields(rng, s)
            try:
                data = build(s)
            except (struct.error, OverflowError):
                continue  # a field value the builder cannot pack (not a case)
            if raw_only or rng.random() < 0.2:
                data = mutate_bytes(rng, data, build(seed_stream(rng)))
            c0 = time.perf_counter()
            try:
                err = run_case(data, orig, raw_only, tmpfile, s["sid"] or None)
            except BaseException as e:  # noqa: BLE001 - a crash is what we look for
                if isinstance(e, KeyboardInterrupt):
                    raise
                err = f"crash: {type(e).__name__}: {str(e)[:200]}"
            dt = time.perf_counter() - c0
            slowest = max(slowest, dt)
            if err is None and dt > slow_s:
                err = f"slow: {dt:.2f} s"
            n += 1
            if err is not None:
                findings.append({"case": n, "finding": err, "bytes": len(data)})
                if out:
                    os.makedirs(out, exist_ok=True)
                    with open(os.path.join(out, f"case-{seed}-{n}.racv"), "wb") as f:
                        f.write(data)
                log(f"finding at case {n}: {err}")
    finally:
        try:
            os.unlink(tmpfile)
        except FileNotFoundError:
            pass
        os.rmdir(tmpdir)
    el = time.perf_counter() - t0
    return {"cases": n, "seconds": el, "cases_per_s": n / el if el > 0 else None, "findings": findings,
            "slowest_case_s": slowest, "seed": seed}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=None, help="stop after this long (default: 60 unless --cases)")
    ap.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="fuzz-findings", help="folder for the inputs of findings")
    ap.add_argument("--slow", type=float, default=2.0, help="a case slower than this (s) is a finding")
    ap.add_argument("--max-rss-mb", type=int, default=None, help="limit the address space (RLIMIT_AS)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.max_rss_mb:
        import resource

        lim = a.max_rss_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    seconds = a.seconds if a.seconds is not None or a.cases is not None else 60.0
    rep = fuzz(seconds, a.cases, a.seed, a.out, a.slow)
    if a.json:
        print(json.dumps(rep, indent=1))
    else:
        print(f"{rep['cases']} cases in {rep['seconds']:.1f} s ({rep['cases_per_s']:.0f} cases/s), "
              f"{len(rep['findings'])} findings, slowest case {rep['slowest_case_s'] * 1e3:.0f} ms")
    return 1 if rep["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
