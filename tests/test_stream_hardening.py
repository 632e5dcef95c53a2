"""Streaming hardening (issue 24): acknowledgement timeout from the measured RTT, handshake timeout,
a clear refusal when full, a client that reports a vanished server, bounded parsing of what a server
sends."""
import asyncio
import time

import pytest

from rac_video.stream import framing
from rac_video.stream.bench import run_inprocess
from rac_video.stream.client import ClientConfig, StreamClient
from rac_video.stream.netem import parse_netem
from rac_video.stream.server import ServerConfig, StreamServer

SIZE = (160, 96)


def _run(coro, timeout=40):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def test_end_report_parsing_is_bounded():
    assert framing.parse_end(b"") == {} and framing.parse_end(b'{"sent": 3}') == {"sent": 3}
    for body in (b"[" * 200000 + b"]" * 200000, b'{"a":' * 50 + b"1" + b"}" * 50, b"x" * (framing.MAX_END_REPORT + 1),
                 b'{"x": Infinity}', b"\xff"):
        with pytest.raises(ValueError):
            framing.parse_end(body)


def test_jpeg_with_a_huge_declared_size_is_rejected_before_decoding():
    import io

    from PIL import Image

    from rac_video.stream.codecs import JpegStandIn

    buf = io.BytesIO()
    Image.new("RGB", (16, 8)).save(buf, format="JPEG")
    b = bytearray(buf.getvalue())
    sof = b.find(b"\xff\xc0")
    b[sof + 5:sof + 9] = (9000).to_bytes(2, "big") + (9000).to_bytes(2, "big")   # height, width in the SOF0
    with pytest.raises(ValueError, match="9000x9000"):
        JpegStandIn().decode_frame(bytes(b), None, 8, height=8, width=16)


def test_idle_connections_are_closed_and_a_full_server_says_so():
    async def main():
        server = StreamServer(ServerConfig(codec="jpeg", size=SIZE, fps=25, max_clients=1, handshake_timeout_s=0.3))
        port = await server.start()
        r, w = await asyncio.open_connection("127.0.0.1", port)       # idle: never greets
        await asyncio.sleep(0.05)
        # while the idle socket holds the only slot, a client is refused with a reason (not silently)
        refused = StreamClient(ClientConfig(port=port, gaze="none", max_frames=3, reconnect=0))
        await refused.run()
        assert refused.failure and "server full" in refused.failure
        for _ in range(100):                                           # the idle one is closed...
            if not server.sessions:
                break
            await asyncio.sleep(0.02)
        assert not server.sessions and server.finished[0]["handshake_failed"]
        client = StreamClient(ClientConfig(port=port, gaze="none", max_frames=3, reconnect=0))
        await client.run()                                             # ...and a real client is served
        assert client.failure is None and client.stats.counts["received"] >= 3
        w.close()
        await server.close()

    _run(main())


def test_client_reports_a_vanished_server(capsys):
    from rac_video.cli import main

    async def go():
        server = StreamServer(ServerConfig(codec="jpeg", size=SIZE, fps=50))
        port = await server.start()
        client = StreamClient(ClientConfig(port=port, gaze="none", reconnect=1, reconnect_delay_s=0.05,
                                           connect_timeout_s=1.0, read_timeout_s=1.0))
        task = asyncio.create_task(client.run())
        while client.stats.counts["received"] < 5:
            await asyncio.sleep(0.02)
        await server.close()                                           # the server goes away mid-stream
        await task
        return client

    client = _run(go())
    assert client.stats.counts["received"] >= 5 and client.failure
    # the command: a port nobody listens on -> exit 1 with a one-line error
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    assert main(["stream", "play", "--port", str(port), "--gaze", "none", "--reconnect", "0"]) == 1
    assert "cannot reach the server" in capsys.readouterr().err


def test_ack_timeout_follows_the_measured_round_trip():
    # window 1 over a lossy link: every lost frame holds the window until the ack timeout. With the
    # timeout from the measured RTT (~ tens of ms here) a loss costs about one round trip, not 1 s.
    scfg = ServerConfig(codec="jpeg", size=SIZE, fps=50, count=100, window=1, ack_timeout_s=1.0,
                        netem=parse_netem(delay_ms=10, loss_pct=10, seed=3))
    t0 = time.monotonic()
    client, _ = _run(run_inprocess(scfg, ClientConfig(port=0, gaze="none")))
    rep = client.server_reports[0]
    assert rep["rtt_ms"] is not None and rep["rtt_ms"] < 500
    assert rep["ack_timeouts"] >= 1                 # losses happened and reopened the window
    assert time.monotonic() - t0 < 10
    # 100 frames at 50 fps = 2 s; with a fixed 1 s timeout each loss would freeze the stream for 1 s
    assert client.stats.counts["displayed"] >= 40, (client.stats.counts, rep)


def test_client_rejects_side_info_with_more_levels_than_the_codec():
    import numpy as np

    from rac_video.importance import sideinfo
    from rac_video.stream.codecs import JpegStandIn
    from rac_video.stream.stats import FrameRecord

    from rac_video.pipeline import FrameDecoder

    client = StreamClient(ClientConfig(port=1, gaze="none"))
    codec = JpegStandIn()
    h = framing.Header(model=codec.name, weights_hash=codec.weights_hash, width=16, height=8, fps_num=50,
                       fps_den=1, color="rgb24", settings={"codec": "jpeg"})
    client.decoder = FrameDecoder(codec, h)
    side = sideinfo.RasterLevels(np.full(codec.latent_hw(8, 16), 16, np.uint8), 17).to_bytes()
    pkt = framing.Packet(0, 0, 8, side, b"")
    rec = FrameRecord(*([0] * 5), *([0.0] * 9))
    with pytest.raises(ValueError, match="up to 16 .* with 16 levels"):
        client._decode_one(rec, pkt)
