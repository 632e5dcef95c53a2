"""Hostile-server sessions against the stream client (``rac_video.stream.client.StreamClient``).

Each session: a loopback server that greets the client with a (possibly mutated) stream header, then
sends a mix of valid JPEG frames, frames with mutated fields (CRCs recomputed or not), bad message kinds
and lengths, truncated messages, garbage, END reports (valid, junk, deeply nested, oversized), or
vanishes. The client runs with ``reconnect=0`` and short timeouts.

Findings: ``client.run()`` raising anything but the documented ``ValueError`` (unknown codec, model
mismatch: ``stream play`` exits 2 with one line), a session that does not end within ``--slow`` seconds
(hang), or the client exiting "successfully" (no ``failure``) after the server vanished before END.

    python tools/fuzz_stream.py --sessions 10000 --seed 1
"""
from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import os
import random
import struct
import sys
import time
import zlib

import numpy as np


from rac_video.container import Header, Packet  # noqa: E402
from rac_video.importance import sideinfo  # noqa: E402
from rac_video.stream import framing  # noqa: E402
from rac_video.stream.client import ClientConfig, StreamClient  # noqa: E402


def _jpeg(w, h, rng):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), rng.randrange(256), np.uint8)).save(buf, format="JPEG", quality=50)
    return buf.getvalue()


def _header(rng, W, H):
    settings = {"codec": "jpeg", "standin": True, "levels": 16, "side_info": "foveated_gaze"}
    k = rng.randrange(10)
    if k == 0:
        settings["codec"] = rng.choice(["rac", "x", None, 5])
    h = Header("jpeg-standin", "0" * 64, W, H, 50, 1, settings=settings, stream_id=rng.randrange(1, 1 << 32))
    b = bytearray(h.to_bytes())
    if k == 1:  # frame size mutated, CRC recomputed
        b[12:20] = struct.pack("<II", rng.choice([0, 1, 65535, 1 << 31]), rng.choice([1, 9000, 65535]))
        b[-4:] = struct.pack("<I", zlib.crc32(bytes(b[:-4])))
    elif k == 2:
        b[rng.randrange(len(b))] ^= 0xFF
    elif k == 3:
        b = b[:rng.randrange(len(b))]
    return bytes(b)


def _frame(rng, i, W, H, jpeg):
    hostile = rng.random() < 0.1  # 17 levels, level 16: more than the codec has
    lv = sideinfo.RasterLevels(np.full((-(-H // 8), -(-W // 8)), 16 if hostile else 15, np.uint8),
                               17 if hostile else 16).to_bytes()
    pkt = Packet(i, i, 8, lv, jpeg if rng.random() < 0.9 else os.urandom(rng.randrange(40)))
    pb = bytearray(pkt.to_bytes())
    t = framing.Timing(i, -1, *([time.monotonic()] * 6), float("nan"), float("nan"), 0)
    k = rng.randrange(12)
    if k == 0:
        pb[rng.randrange(len(pb))] ^= 1 << rng.randrange(8)
    elif k == 1:  # a length field mutated behind a recomputed header CRC
        pb[4:8] = struct.pack("<I", rng.choice([0, 17, 1 << 28, (1 << 32) - 1]))
        pb[12:16] = struct.pack("<I", zlib.crc32(bytes(pb[:12])))
    elif k == 2:
        t = framing.Timing(i + 1, -1, *([0.0] * 8), 0)
    return framing.frame_message(t, bytes(pb))


async def _serve(reader, writer, rng, plan):
    W, H = rng.choice([(16, 8), (64, 48), (33, 17)])
    try:
        await reader.readline()  # the client's greeting (or nothing)
    except Exception:
        pass
    try:
        writer.write(framing.message(framing.HEADER, _header(rng, W, H)))
        jpeg = _jpeg(W, H, rng)
        for i in range(rng.randrange(0, 12)):
            k = rng.randrange(14)
            if k == 0:
                writer.write(struct.pack("<BI", rng.choice([0, 4, 255]), rng.randrange(100)) + os.urandom(10))
            elif k == 1:
                writer.write(struct.pack("<BI", framing.FRAME, rng.choice([framing.MAX_MESSAGE + 1, (1 << 32) - 1])))
            elif k == 2:
                m = _frame(rng, i, W, H, jpeg)
                writer.write(m[:rng.randrange(len(m))])
                break
            elif k == 3:
                writer.write(os.urandom(rng.randrange(1, 64)))
            else:
                writer.write(_frame(rng, i, W, H, jpeg))
            await writer.drain()
        end = rng.randrange(6)
        if end == 0:
            plan["vanished"] = True  # no END: the server just goes away
        else:
            body = [b"", b'{"sent": 3}', b"[" * 100000 + b"]" * 100000, b"x" * (framing.MAX_END_REPORT + 5),
                    b'{"error": "server full"}'][end - 1]
            writer.write(framing.message(framing.END, body))
        await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def session(rng, slow_s):
    plan, holder = {}, {}

    async def once(r, w):  # one connection per session: the server is gone after it (a real vanish)
        holder["srv"].close()
        await _serve(r, w, rng, plan)

    srv = holder["srv"] = await asyncio.start_server(once, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    client = StreamClient(ClientConfig(port=port, gaze="none", reconnect=0, reconnect_delay_s=0.01,
                                       connect_timeout_s=0.5, read_timeout_s=0.5))
    err = None
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(client.run(), slow_s)
    except asyncio.TimeoutError:
        err = f"hang: session not over after {slow_s} s"
    except ValueError:
        return None, time.perf_counter() - t0  # a documented one-line error (unknown codec, model mismatch)
    except Exception as e:  # noqa: BLE001
        err = f"crash: {type(e).__name__}: {str(e)[:200]}"
    finally:
        srv.close()
        await srv.wait_closed()
    if err is None and plan.get("vanished") and not client.ended and client.failure is None:
        err = (f"server vanished before END, client reports success (stop={client.stop.is_set()}, "
               f"counts={dict(client.stats.counts)})")
    return err, time.perf_counter() - t0


def fuzz(sessions=None, seconds=None, seed=0, slow_s=5.0, log=print):
    rng = random.Random(seed)
    logging.getLogger("rac_video").setLevel(logging.CRITICAL)
    findings, n, t0 = [], 0, time.perf_counter()

    async def run_all():
        nonlocal n
        while (sessions is None or n < sessions) and (seconds is None or time.perf_counter() - t0 < seconds):
            err, dt = await session(rng, slow_s)
            n += 1
            if err:
                findings.append({"session": n, "finding": err})
                log(f"finding at session {n}: {err}")

    asyncio.run(run_all())
    el = time.perf_counter() - t0
    return {"sessions": n, "seconds": el, "sessions_per_s": n / el if el else None, "findings": findings, "seed": seed}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--slow", type=float, default=5.0)
    a = ap.parse_args(argv)
    rep = fuzz(a.sessions, a.seconds if a.seconds or a.sessions else 60.0, a.seed, a.slow)
    print(json.dumps({k: v for k, v in rep.items() if k != "findings"} | {"findings": rep["findings"][:20]}, indent=1))
    return 1 if rep["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
