#!/usr/bin/env python
"""Throughput of the .racv container and of video I/O (frames per second, bytes per frame).

* container: write (atomic, fsync at close) / stream-read / random access of 1000 packets of
  200 B side info + 20 kB payload, and the container's own bytes (38 per packet + header + index);
* video: read BasketballPass (416x240 PNG) and DAVIS blackswan (854x480 JPEG), write each with
  VideoWriter (libx264 crf 12 medium, ffv1, x264-qp0) and read the result back with PyAV.

    python tools/bench_io.py [--data DIR] [--out benchmarks/io-container.json]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

from rac_video.container import Header, Packet, Reader, Writer  # noqa: E402
from rac_video.eval.report import benchmark_record, write_record  # noqa: E402
from rac_video.io import VideoWriter, open_video  # noqa: E402

DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))


def bench_container(tmp: str) -> dict:
    rng = np.random.default_rng(0)
    pk = [Packet(i, i, 8, rng.bytes(200), rng.bytes(20000)) for i in range(1000)]
    path = os.path.join(tmp, "b.racv")
    t = time.perf_counter()
    with Writer(path, Header("rac-tiny-v1", "0" * 64, 416, 240, 50, 1, settings={"quality": 8})) as w:
        for p in pk:
            w.write(p)
    tw = time.perf_counter() - t
    t = time.perf_counter()
    n = sum(1 for _ in Reader(path))
    tr = time.perf_counter() - t
    r = Reader(path)
    pos = range(0, 1000, 7)
    t = time.perf_counter()
    for i in pos:
        r[i]
    ta = (time.perf_counter() - t) / len(pos)
    size = os.path.getsize(path)
    return {"packets": n, "payload_bytes": 20000, "side_info_bytes": 200, "write_pkt_s": round(1000 / tw),
            "read_pkt_s": round(n / tr), "random_access_us": round(ta * 1e6, 1), "file_bytes": size,
            "container_bytes": size - sum(len(p.payload) + len(p.side_info) for p in pk)}


def bench_video(spec: str, fps: int, tmp: str) -> dict:
    r = open_video(spec, fps=fps)
    t = time.perf_counter()
    frames = [f for _, _, f in r]
    out = {"source": spec, "size": [r.width, r.height], "frames": len(frames),
           "read_fps": round(len(frames) / (time.perf_counter() - t), 1), "writers": {}}
    for codec, ext in (("libx264", ".mp4"), ("ffv1", ".mkv"), ("x264-qp0", ".mp4")):
        path = os.path.join(tmp, "o" + ext)
        t = time.perf_counter()
        with VideoWriter(path, r.width, r.height, fps, codec=codec) as w:
            for f in frames:
                w.write(f)
        dw = time.perf_counter() - t
        t = time.perf_counter()
        m = sum(1 for _ in open_video(path))
        out["writers"][codec] = {"write_fps": round(len(frames) / dw, 1),
                                 "read_back_fps": round(m / (time.perf_counter() - t), 1),
                                 "kib_per_frame": round(os.path.getsize(path) / len(frames) / 1024, 1)}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("RAC_VIDEO_DATA", DEFAULT_DATA))
    ap.add_argument("--out", default=None, help="write the JSON here (else print it)")
    a = ap.parse_args(argv)
    res = benchmark_record("tools/bench_io.py", argv, None, what="container and video I/O throughput",
                           date_utc=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    with tempfile.TemporaryDirectory() as tmp:
        res["container"] = bench_container(tmp)
        res["video"] = []
        for rel, fps in (("video/basketballpass", 50), ("video/davis2016/JPEGImages/blackswan", 24)):
            spec = os.path.join(a.data, rel)
            if os.path.isdir(spec):
                res["video"].append(bench_video(spec, fps, tmp))
    if a.out:
        write_record(a.out, res)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
