"""Server and client together on loopback for a fixed number of frames: the latency report.

:func:`run_pair` starts the server as a separate process (``rac-video stream serve``, so encoder and
decoder do not share an interpreter lock), runs the client here until the server ends the stream,
and returns the client's summary (which includes the server's own end-of-stream report).
:func:`run_inprocess` does the same with both on one event loop (for tests).
"""
from __future__ import annotations

import asyncio
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

log = logging.getLogger(__name__)

__all__ = ["run_pair", "run_inprocess", "machine"]


def machine() -> dict:
    info = {"hostname": platform.node(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["load_avg_at_start"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    return info


async def _wait_port(path, proc, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before listening")
        try:
            with open(path) as f:
                txt = f.read().strip()
            if txt:
                return int(txt)
        except (OSError, ValueError):
            pass
        await asyncio.sleep(0.05)
    raise RuntimeError(f"server did not start listening within {timeout:g} s")


async def run_pair(serve_argv: list[str], client_cfg, *, start_timeout: float = 120.0, run_timeout: float = 600.0):
    """``serve_argv``: arguments after ``rac-video stream serve`` (without ``--port``/``--port-file``).
    Returns the :class:`~rac_video.stream.client.StreamClient` after the run."""
    from .client import StreamClient

    with tempfile.TemporaryDirectory(prefix="rac-stream-") as tmp:
        port_file = os.path.join(tmp, "port")
        cmd = [sys.executable, "-m", "rac_video.cli", "stream", "serve", *serve_argv, "--port", "0",
               "--port-file", port_file, "--max-clients", "1"]
        log.info("starting server: %s", " ".join(cmd))
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        try:
            port = await _wait_port(port_file, proc, start_timeout)
            client_cfg.port = port
            client = StreamClient(client_cfg)
            await asyncio.wait_for(client.run(), run_timeout)
            return client
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def run_inprocess(server_cfg, client_cfg, *, run_timeout: float = 60.0):
    """Both ends on this event loop; returns (client, server)."""
    from .client import StreamClient
    from .server import StreamServer

    server = StreamServer(server_cfg)
    client_cfg.port = await server.start()
    client = StreamClient(client_cfg)
    try:
        await asyncio.wait_for(client.run(), run_timeout)
    finally:
        await server.close()
    return client, server
