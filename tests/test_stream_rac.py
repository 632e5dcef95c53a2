"""The stream with the real codec (``--codec rac``, the default), on random-init test models.

Checks the wiring — header names the model and hash, levels travel as side info, frames decode at the
right size — and that a stream and a ``.racv`` file share one per-frame codec: for the same frames,
side information and settings, the packets the server sends are the bytes the file holds. Not
picture quality. The server runs with ``realtime=False`` (capture waits for the encoder), so a slow
machine makes the test slower, never makes it skip frames."""
import asyncio
import os

import numpy as np
import pytest

from rac_video import pipeline
from rac_video.container import Reader
from rac_video.importance.source import ImportanceFrame
from rac_video.stream import framing
from rac_video.stream.bench import run_inprocess
from rac_video.stream.client import ClientConfig
from rac_video.stream.server import ServerConfig

MODEL = "rand-a"


def _clip(folder, n=4, h=48, w=64):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        f = np.stack([(xx * 4 + i * 9) % 256, (yy * 5) % 256, ((xx + yy) * 2 + i) % 256], -1)
        Image.fromarray(np.clip(f + rng.integers(-30, 31, f.shape), 0, 255).astype(np.uint8)).save(
            os.path.join(folder, f"f{i:03d}.png"))
    return str(folder)


def _stream(scfg, monkeypatch, **client_kw):
    """Run server and client in process; returns (client, server, {index: packet bytes as received})."""
    received = {}
    parse = framing.parse_frame

    def recording(body):
        timing, pkt = parse(body)
        received[timing.index] = bytes(body[framing.TIMING_SIZE:])   # the packet exactly as on the wire
        return timing, pkt

    monkeypatch.setattr(framing, "parse_frame", recording)
    ccfg = ClientConfig(port=0, gaze="synthetic", read_timeout_s=120, **client_kw)
    client, server = asyncio.run(run_inprocess(scfg, ccfg, run_timeout=600))
    return client, server, received


def test_stream_with_rac_codec(weights_env, monkeypatch):
    scfg = ServerConfig(size=(64, 48), fps=10, count=4, model=MODEL, quality=4, realtime=False)
    assert scfg.codec == "rac"                       # the real codec is the default
    client, server, received = _stream(scfg, monkeypatch)
    c = client.stats.counts
    assert client.header.model == MODEL and client.header.weights_hash == server.codec.weights_hash
    assert client.header.settings["codec"] == "rac" and not client.header.settings["standin"]
    assert "codec_note" not in client.summary()
    assert c["received"] == 4 and c.get("dropped_by_server", 0) == 0 and sorted(received) == [0, 1, 2, 3]
    assert c["displayed"] >= 1 and c.get("decode_errors", 0) == 0
    shown = [r for r in client.stats.frames if r.status == "displayed"]
    assert all(r.decode_end > r.decode_start for r in shown)
    assert client.server_reports[0]["drops"] == {}


def test_stream_play_decodes_with_the_clients_realism(weights_env, monkeypatch):
    """``stream play --realism``: the client's ρ overrides the header's default (0) for every frame."""
    scfg = ServerConfig(size=(64, 48), fps=10, count=3, model="rand-real", quality=2, realtime=False)
    client, server, received = _stream(scfg, monkeypatch, realism=1.0)
    assert client.header.settings["realism"] == 0.0 and client.decoder.realism == 1.0
    assert client.stats.counts["received"] == 3 and client.stats.counts.get("decode_errors", 0) == 0


class _Replay:
    """Importance for the file path: the side information the stream sent, frame by frame."""

    kind = "replay"

    def __init__(self, sides, levels):
        self.sides, self.levels, self.i = sides, levels, 0

    def step(self, frame):
        side = self.sides[self.i]
        self.i += 1
        return ImportanceFrame(index=self.i - 1, map=np.zeros(frame.shape[:2], np.float32),
                               levels_count=self.levels, _gaze_side=side)


@pytest.mark.parametrize("rate", [{"quality": 5}, {"target_kbps": 40.0}], ids=["quality", "bitrate"])
def test_stream_packets_are_the_file_packets(tmp_path, weights_env, monkeypatch, rate):
    """Same frames, same side information (the gaze maps the stream built), same settings: the packets
    ``rac-video stream`` sends are byte for byte the packets ``rac-video encode`` writes to a .racv."""
    from rac_video.importance import sideinfo

    clip = _clip(tmp_path / "clip")
    scfg = ServerConfig(source=clip, fps=10, count=4, loop=False, model=MODEL, realtime=False, **rate)
    client, server, received = _stream(scfg, monkeypatch)
    assert sorted(received) == [0, 1, 2, 3]
    pkts = [framing.unpack_packet(received[i])[0] for i in range(4)]
    sides = [sideinfo.from_bytes(p.side_info) for p in pkts]
    assert all(isinstance(s, sideinfo.FoveatedGaze) for s in sides)

    opts = pipeline.EncodeOptions(quality=rate.get("quality"), bitrate_kbps=rate.get("target_kbps"),
                                  importance="gaze", model=MODEL, fps=10, stream_id=client.header.stream_id)
    out = tmp_path / "same.racv"
    pipeline.encode_video(clip, out, opts, progress=False, importance_source=_Replay(sides, server.codec.levels))
    with Reader(out) as r:
        file_pkts = [p.to_bytes() for p in r]
        file_header = r.header
    assert file_pkts == [received[i] for i in range(4)]
    raw = out.read_bytes()
    assert all(received[i] in raw for i in range(4))          # each as one run of the file's bytes
    # the stream header is the file header plus the stream's own settings
    stream_settings = dict(client.header.settings)
    assert {stream_settings.pop(k) for k in ("codec", "standin", "side_info")} == {"rac", False, "foveated_gaze"}
    assert stream_settings == file_header.settings
    assert (client.header.model, client.header.weights_hash, client.header.stream_id) == \
        (file_header.model, file_header.weights_hash, file_header.stream_id)


@pytest.mark.skipif("rac-tiny-v6p" not in __import__("rac_video.codec.weights", fromlist=["available"]).available(),
                    reason="shipped weights absent")
@pytest.mark.parametrize("loss", [0.0, 0.3])
def test_stream_p_frames_predict_from_decoded_frames(monkeypatch, loss):
    """``--gop`` > 1: P-frames predict from the newest frame the client reported decoded, so a lost packet
    never makes a later frame undecodable (it costs itself only), and the packets say which frame they
    predict from."""
    from rac_video.codec import inter
    from rac_video.stream.netem import NetEmConfig

    scfg = ServerConfig(size=(96, 64), fps=10, count=14, model="rac-tiny-v6p", quality=6, realtime=False, gop=100,
                        netem=NetEmConfig(delay_s=0.01, loss=loss, seed=3))
    client, server, received = _stream(scfg, monkeypatch)
    c = client.stats.counts
    report = client.server_reports[0]
    assert report["gop"] == 100 and report["frame_types"].get("p", 0) >= 3, report
    assert c.get("decode_errors", 0) == 0 and c["received"] == len(received)
    if loss:
        assert c.get("lost_in_network", 0) >= 1
    from rac_video.container import unpack_packet

    refs = {}
    for i, b in received.items():
        pk = unpack_packet(b)[0]
        assert (pk.ref is not None) == inter.payload_is_p(pk.payload)
        refs[i] = pk.ref
    assert all(r in received and r < i for i, r in refs.items() if r is not None)   # a frame the client had
