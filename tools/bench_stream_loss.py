"""Streaming with the real codec over a lossy, jittery emulated link: all-intra against P-frames that
predict from the newest frame the client reported decoded (``stream serve --gop N``).

    python tools/bench_stream_loss.py [--model rac-tiny-v6p] [--frames 150] [--fps 10] [--loss 5] \\
        [--delay 50] [--jitter 50] [--gops 1,100] [--window 0] [--out FILE]

Per run: frames sent / lost in the network / shown, the payload bytes per frame, the frame types the server
coded, and ``StreamStats.continuity``: of the frames that reached the client, the share shown without a
stall longer than one round trip (end-to-end latency at most median + RTT); a frame that arrived but could
not be decoded counts as a stall. Server and client run in one process (``stream.bench.run_inprocess``);
the frame rate is set so that this 2-core machine keeps up with the codec, so stalls come from the link.
"""
import argparse
import asyncio
import json

from rac_video.eval.report import write_report
from rac_video.stream.bench import run_inprocess
from rac_video.stream.client import ClientConfig
from rac_video.stream.netem import parse_netem
from rac_video.stream.server import ServerConfig


def run(model, frames, fps, gop, loss, delay, jitter, seed, window, quality, size):
    scfg = ServerConfig(codec="rac", model=model, size=size, fps=fps, count=frames, quality=quality, gop=gop,
                        window=window, netem=parse_netem(delay_ms=delay, jitter_ms=jitter, loss_pct=loss, seed=seed))
    client, _ = asyncio.run(run_inprocess(scfg, ClientConfig(port=0, gaze="synthetic"), run_timeout=frames / fps + 120))
    rep, c = client.server_reports[0], client.stats.counts
    rtt = (rep["rtt_ms"] or 2 * delay) / 1e3
    recs = client.stats.frames
    return {"gop": gop, "frames": frames, "sent": rep["sent"], "server_drops": rep["drops"],
            "lost_in_network": c.get("lost_in_network", 0), "received": c.get("received", 0),
            "displayed": c.get("displayed", 0), "decode_errors": c.get("decode_errors", 0),
            "frame_types": rep.get("frame_types", {}), "bytes_per_frame": rep["bytes"] / max(1, rep["sent"]),
            "mean_quality": sum(r.quality for r in recs) / max(1, len(recs)), "rtt_ms": rep["rtt_ms"],
            "continuity": client.stats.continuity(rtt), "latency_ms": client.stats.latency_ms()["end_to_end"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="rac-tiny-v6p")
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--size", default="416x240")
    ap.add_argument("--quality", type=int, default=8)
    ap.add_argument("--loss", type=float, default=5.0, help="percent")
    ap.add_argument("--delay", type=float, default=50.0, help="ms")
    ap.add_argument("--jitter", type=float, default=50.0, help="ms")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--gops", default="1,100")
    ap.add_argument("--window", type=int, default=0)
    ap.add_argument("--out", default=None, help="also write the results as a benchmark record here")
    a = ap.parse_args(argv)
    size = tuple(int(v) for v in a.size.split("x"))
    out = {}
    for gop in (int(g) for g in a.gops.split(",")):
        out[f"gop{gop}"] = r = run(a.model, a.frames, a.fps, gop, a.loss, a.delay, a.jitter, a.seed, a.window,
                                   a.quality, size)
        print(json.dumps(r), flush=True)
    if a.out:
        link = {"delay_ms": a.delay, "jitter_ms": a.jitter, "loss_pct": a.loss, "seed": a.seed, "fps": a.fps,
                "size": a.size, "quality": a.quality, "window": a.window}
        write_report(a.out, "tools/bench_stream_loss.py", argv, a.model, link=link, results=out)


if __name__ == "__main__":
    main()
