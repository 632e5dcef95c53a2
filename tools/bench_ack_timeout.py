"""Window-1 streaming over a lossy, jittery emulated link: the RTT-based acknowledgement timeout
against the former fixed 1 s one (JPEG stand-in, server and client in one process).

    python tools/bench_ack_timeout.py [--frames 250] [--loss 5] [--delay 50] [--jitter 50] [--seed 7]
"""
import argparse
import asyncio
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rac_video.stream.bench import run_inprocess  # noqa: E402
from rac_video.stream.client import ClientConfig  # noqa: E402
from rac_video.stream.netem import parse_netem  # noqa: E402
from rac_video.stream.server import ServerConfig  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--loss", type=float, default=5.0, help="percent")
    ap.add_argument("--delay", type=float, default=50.0, help="ms")
    ap.add_argument("--jitter", type=float, default=50.0, help="ms")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    out = {}
    for label, lo in (("rtt_timeout", 0.03), ("fixed_1s", 1.0)):
        scfg = ServerConfig(codec="jpeg", size=(416, 240), fps=50, count=a.frames, window=1, ack_timeout_s=1.0,
                            min_ack_timeout_s=lo,
                            netem=parse_netem(delay_ms=a.delay, jitter_ms=a.jitter, loss_pct=a.loss, seed=a.seed))
        client, _ = asyncio.run(run_inprocess(scfg, ClientConfig(port=0, gaze="none")))
        rep, c = client.server_reports[0], client.stats.counts
        out[label] = {"frames": a.frames, "displayed": c.get("displayed", 0), "lost_in_network": c.get("lost_in_network", 0),
                      "ack_timeouts": rep["ack_timeouts"], "rtt_ms": rep["rtt_ms"], "server_drops": rep["drops"]}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
