HELP = "low-latency gaze-contingent streaming on loopback: serve, play (optionally in a browser), bench"

_NETEM_KEYS = {"rate": "rate_mbps", "delay": "delay_ms", "jitter": "jitter_ms", "loss": "loss_pct",
               "queue": "queue_ms", "seed": "seed"}


def parse_netem_spec(spec: str):
    """``none`` or ``rate=MBIT,delay=MS,jitter=MS,loss=PERCENT[,queue=MS][,seed=N]`` → NetEmConfig."""
    from ..stream.netem import parse_netem

    if spec in ("", "none"):
        return parse_netem()
    kw = {}
    for part in spec.split(","):
        k, sep, v = part.partition("=")
        k = k.strip()
        if not sep or k not in _NETEM_KEYS:
            raise ValueError(f"bad netem item {part!r}: use none or {','.join(f'{k}=N' for k in _NETEM_KEYS)}")
        try:
            kw[_NETEM_KEYS[k]] = int(v) if k == "seed" else float(v)
        except ValueError:
            raise ValueError(f"netem {k} must be a number, got {v!r}") from None
    return parse_netem(**kw)


def _size(s):
    try:
        w, h = (int(v) for v in s.lower().split("x"))
    except ValueError:
        raise ValueError(f"size must be WxH, got {s!r}") from None
    return w, h


def _server_args(p):
    g = p.add_argument_group("server")
    g.add_argument("--source", default="synthetic", help="synthetic (live test pattern) or a frames folder / video")
    g.add_argument("--size", default="416x240", help="synthetic source size WxH (default 416x240)")
    g.add_argument("--fps", type=float, default=None, help="frame rate (default: the clip's, else 50)")
    g.add_argument("--count", type=int, default=None, help="frames per session, then end the stream")
    g.add_argument("--max-frames", type=int, default=500, help="clip frames held in memory (default 500)")
    g.add_argument("--no-loop", action="store_true", help="do not loop the clip")
    g.add_argument("--codec", choices=("rac", "jpeg"), default="rac",
                   help="rac (the region-adaptive codec; default) or jpeg (a stand-in for measuring the transport)")
    g.add_argument("--model", default=None, help="rac model name (default: the shipped default)")
    g.add_argument("--device", default="cpu", help="where the encoder's networks run: cpu, cuda, cuda:N")
    g.add_argument("--quality", type=int, default=8, help="constant quality 0..15 (without --target-kbps)")
    g.add_argument("--target-kbps", type=float, default=0.0, help="target bitrate (rate control as in encode); "
                   "0 = constant quality")
    g.add_argument("--every-frame", action="store_true",
                   help="code every frame: capture waits for the encoder instead of skipping late frames "
                        "(not real time)")
    g.add_argument("--netem", default="none", help="emulated link: none | rate=MBIT,delay=MS,jitter=MS,loss=PCT"
                   "[,queue=MS][,seed=N]")
    g.add_argument("--predict-ms", type=float, default=0.0, help="gaze prediction horizon (latency compensation)")
    g.add_argument("--deadzone-deg", type=float, default=0.5, help="gaze dead zone (no map change in fixations)")
    g.add_argument("--gop", type=int, default=1,
                   help="an intra frame every GOP frames, P-frames between, each predicted from the newest frame the "
                        "client reported decoded (needs a model with a temporal prior and --quality; default 1: "
                        "all intra)")
    g.add_argument("--window", type=int, default=0,
                   help="at most this many frames in flight, unacknowledged by the client (0: no limit)")


def _client_args(p):
    g = p.add_argument_group("client")
    g.add_argument("--gaze", default="synthetic", help="none | synthetic | trace:PATH (replayed in real time) | "
                   "viewer (browser mouse; play only)")
    g.add_argument("--gaze-hz", type=float, default=120.0)
    g.add_argument("--deadline-ms", type=float, default=0.0, help="skip frames older than this on arrival (0: off)")
    g.add_argument("--seed", type=int, default=0, help="synthetic gaze seed")


def add_arguments(p):
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("serve", help="encoder server", description="Encoder server on loopback.")
    _server_args(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--port-file", default=None, help="write the bound port here (with --port 0)")
    s.add_argument("--max-clients", type=int, default=4)
    s.add_argument("--duration", type=float, default=None, help="stop serving after this many seconds")

    c = sub.add_parser("play", help="decoder client (headless, or --viewer for the browser page)",
                       description="Decoder client: decodes, displays, sends gaze, reports latency.")
    _client_args(c)
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8765)
    c.add_argument("--viewer", type=int, default=None, metavar="PORT",
                   help="serve the browser viewer on 127.0.0.1:PORT (0: any); frames count as displayed when painted")
    c.add_argument("--frames", type=int, default=None, help="stop after receiving this many frames")
    c.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    c.add_argument("--reconnect", type=int, default=5, help="failed connection attempts in a row before giving up")
    c.add_argument("--realism", type=float, default=None, metavar="RHO",
                   help="decode with realism ρ in 0..1 (generated texture where the importance is low; default: the "
                        "server's header)")
    c.add_argument("--device", default="cpu", help="where the decoder's networks run: cpu, cuda, cuda:N")
    c.add_argument("--out", default=None, help="write OUT.json, OUT.csv (per frame) and OUT.png (plot)")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")

    b = sub.add_parser("bench", help="server (own process) + client on loopback for N frames: latency report",
                       description="Latency report: server process + client on loopback, one run per --netem.")
    _server_args(b)
    _client_args(b)
    b.add_argument("--frames", type=int, default=500, help="frames per run (default 500)")
    b.add_argument("--run", action="append", dest="runs", default=None, metavar="NETEM",
                   help="a netem spec per run (repeatable; default: none and the issue's lossy link)")
    b.add_argument("--report", default=None, help="report path (default benchmarks/stream-<hostname>.json)")
    b.add_argument("--json", action="store_true", help="print the report as JSON")
    b.add_argument("--out-dir", default=None, help="per-run CSV and plots (default: beside the report)")
    b.add_argument("--decode-device", default=None,
                   help="where the client's networks run (default: --device, the server's)")
    b.add_argument("--inprocess", action="store_true", help="server on the same event loop (no subprocess)")


def _server_config(args):
    from ..stream.server import ServerConfig
    from ._common import check_device

    if not 0 <= args.quality <= 15:
        raise ValueError("quality must be in 0..15")
    if args.target_kbps < 0:
        raise ValueError("target bitrate must be >= 0")
    if args.window < 0:
        raise ValueError("window must be >= 0")
    if args.gop < 1:
        raise ValueError("gop must be >= 1")
    if args.gop > 1 and args.codec != "rac":
        raise ValueError("--gop > 1 needs the region-adaptive codec (--codec rac)")
    return ServerConfig(device=check_device(args.device), gop=args.gop, source=args.source, size=_size(args.size), fps=args.fps, count=args.count,
                        max_frames=args.max_frames, loop=not args.no_loop, codec=args.codec, model=args.model,
                        quality=args.quality, target_kbps=args.target_kbps, netem=parse_netem_spec(args.netem),
                        predict_ms=args.predict_ms, deadzone_deg=args.deadzone_deg, window=args.window,
                        realtime=not args.every_frame)


def _client_config(args, **kw):
    from ..stream.client import ClientConfig

    if args.gaze == "viewer" and getattr(args, "viewer", None) is None:
        raise ValueError("--gaze viewer needs --viewer PORT")
    from ._common import check_device

    device = getattr(args, "decode_device", None) or getattr(args, "device", None) or "cpu"
    return ClientConfig(port=kw.pop("port", 0), device=check_device(device), gaze=args.gaze, gaze_hz=args.gaze_hz, deadline_ms=args.deadline_ms,
                        seed=args.seed, **kw)


def _serve(args):
    import asyncio
    import signal

    from ..stream.codecs import is_standin
    from ..stream.server import StreamServer

    async def main():
        srv = StreamServer(_server_config(args), args.host, args.port)
        srv.config.max_clients = args.max_clients
        port = await srv.start()
        if args.port_file:
            with open(args.port_file + ".tmp", "w") as f:
                f.write(str(port))
            import os
            os.replace(args.port_file + ".tmp", args.port_file)
        print(f"serving {srv.config.source} with {srv.codec.name}{' (stand-in)' if is_standin(srv.codec) else ''} "
              f"on {args.host}:{port}, netem {srv.config.netem.describe()}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await asyncio.wait_for(stop.wait(), args.duration)
        except asyncio.TimeoutError:
            pass
        await srv.close()
        return 0

    return asyncio.run(main())


def _write_outputs(client, prefix, meta, title):
    import os

    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    client.stats.write_csv(prefix + ".csv")
    try:
        client.stats.plot(prefix + ".png", title)
    except ImportError as exc:   # a machine installed without dependencies (the GPU machines): the numbers stay
        import sys
        print(f"rac-video stream: no plot {prefix}.png ({exc})", file=sys.stderr)
    return client.summary(meta)


def _play(args):
    import asyncio
    import json

    from ..stream.client import StreamClient

    if args.realism is not None:
        from ..codec.realism import check_realism

        check_realism(args.realism)
    cfg = _client_config(args, port=args.port, host=args.host, viewer_port=args.viewer, max_frames=args.frames,
                         duration_s=args.duration, reconnect=args.reconnect, realism=args.realism)
    client = StreamClient(cfg)

    async def main():
        task = asyncio.create_task(client.run())
        if client.cfg.viewer_port is not None:
            while client.viewer is None and not task.done():
                await asyncio.sleep(0.01)
            if client.viewer is not None:
                print(f"viewer: {client.viewer.url}", flush=True)
        try:
            await task
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    s = client.summary({"command": "play"})
    if args.out:
        s = _write_outputs(client, args.out, {"command": "play"}, "rac-video stream play")
        with open(args.out + ".json", "w") as f:
            json.dump(s, f, indent=1)
    if args.json:
        print(json.dumps(s, indent=1))
    else:
        _print_summary(s)
    if client.failure:   # the server vanished or refused us: not a successful run, whatever was received
        import sys

        print(f"rac-video stream play: error: {client.failure}", file=sys.stderr)
        return 1
    return 0 if client.stats.counts["received"] else 1


def _print_summary(s):
    lat = s["latency_ms"]["end_to_end"]
    g = s["gaze_to_display_ms"]
    fr = s["frames"]
    print(f"frames: received {fr.get('received', 0)}, displayed {fr.get('displayed', 0)}, "
          f"lost in network {fr.get('lost_in_network', 0)}, dropped by server {fr.get('dropped_by_server', 0)}, "
          f"late {fr.get('late', 0)}, superseded {fr.get('superseded', 0)}")
    print(f"end-to-end ms: median {lat['median']}, p95 {lat['p95']}, max {lat['max']}; "
          f"gaze-to-display ms: median {g['median']}, p95 {g['p95']}; bitrate {s['bitrate_kbps']['mean']} kbit/s")
    if s.get("codec_note"):
        print(f"note: {s['codec_note']}")


def _bench(args):
    import asyncio
    import json
    import os
    import platform
    import sys

    from ..stream import bench

    runs = args.runs or ["none", "rate=20,delay=20,jitter=5,loss=1"]
    for r in runs:
        parse_netem_spec(r)   # validate all before running any
    if args.frames <= 0:
        raise ValueError("--frames must be positive")
    out_json = args.report or os.path.join("benchmarks", f"stream-{platform.node()}.json")
    out_dir = args.out_dir or os.path.splitext(out_json)[0]
    os.makedirs(out_dir, exist_ok=True)
    from ..eval.report import benchmark_record, machine_record, write_record

    try:
        load = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        load = None
    report = benchmark_record("rac-video", None, None, machine=machine_record(load_avg_at_start=load),
                              what="rac-video stream bench: server and client on loopback", runs=[])
    for spec in runs:
        args.netem = spec
        args.count = args.frames
        scfg = _server_config(args)
        ccfg = _client_config(args)
        name = "none" if spec == "none" else spec.replace("=", "").replace(",", "_")
        if args.inprocess:
            client, _ = asyncio.run(bench.run_inprocess(scfg, ccfg, run_timeout=args.frames / 5 + 60))
        else:
            argv = ["--source", args.source, "--size", args.size, "--count", str(args.frames), "--codec", args.codec,
                    "--quality", str(args.quality), "--target-kbps", str(args.target_kbps), "--netem", spec,
                    "--predict-ms", str(args.predict_ms), "--deadzone-deg", str(args.deadzone_deg),
                    "--max-frames", str(args.max_frames), "--window", str(args.window), "--gop", str(args.gop)]
            argv += ["--every-frame"] if args.every_frame else []
            argv += ["--fps", str(args.fps)] if args.fps else []
            argv += ["--model", args.model] if args.model else []
            argv += ["--device", args.device]
            try:
                client = asyncio.run(bench.run_pair(argv, ccfg, run_timeout=args.frames / 5 + 120))
            except RuntimeError as e:   # the server process did not come up (its own error is above)
                print(f"rac-video stream bench: error: {e}", file=sys.stderr)
                return 1
        meta = {"netem": scfg.netem.describe(), "codec": args.codec, "source": args.source, "frames": args.frames,
                "target_kbps": args.target_kbps, "quality": args.quality, "gaze": args.gaze, "window": args.window,
                "gop": args.gop, "realtime": not args.every_frame, "device": args.device,
                "decode_device": ccfg.device,
                "process_pair": not args.inprocess,
                # what the client was sent: the stream header names the model and its weights hash
                "model": client.header.model if client.header else None,
                "weights_sha256": client.header.weights_hash if client.header else None}
        s = _write_outputs(client, os.path.join(out_dir, name), meta, f"{args.codec} · netem {meta['netem']}")
        report["runs"].append(s)
        if not args.json:
            print(f"== netem {meta['netem']}")
            _print_summary(s)
    models = {(r["model"], r["weights_sha256"]) for r in report["runs"]}
    if len(models) == 1:   # one model (as the stream headers name it) for every run: the record's
        report["model"], report["weights_sha256"] = models.pop()
    write_record(out_json, report)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"wrote {out_json} (per-frame CSV and plots in {out_dir})")
    return 0


def run(args):
    return {"serve": _serve, "play": _play, "bench": _bench}[args.action](args)
