"""Browser viewer of the stream client: a page and a tiny HTTP server, on loopback only.

Endpoints (``http://127.0.0.1:PORT``):

* ``GET /``               the page (``viewer.html``): shows the stream, sends the mouse as gaze;
* ``GET /frame?after=S``  long-poll (≤ 1 s) for the newest decoded frame offered after the S-th:
  JPEG (quality 92, re-encoded for the browser) with ``X-Frame-Seq`` (offer count; packet indices
  restart when the client reconnects) and ``X-Frame-Index``; 204 when none came, 410 when the
  stream has ended;
* ``POST /displayed``     ``{"index": N}`` — the page painted frame N (its display time);
* ``POST /gaze``          ``{"nx": 0..1, "ny": 0..1}`` — mouse position in the picture;
* ``GET /stats``          live numbers (end-to-end and gaze-to-display latency, bitrate, losses).

Polling over plain HTTP keeps it dependency-free (no WebSocket library); bodies over 4 KiB and
malformed requests get 4xx answers and a log line.
"""
from __future__ import annotations

import io
import json
import logging
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np

from .codecs import is_standin

log = logging.getLogger(__name__)

__all__ = ["Viewer"]

PAGE = Path(__file__).with_name("viewer.html")
MAX_BODY = 4096


class Viewer:
    def __init__(self, client, loop, port: int = 0, host: str = "127.0.0.1"):
        from .server import check_loopback

        check_loopback(host)
        self.client, self.loop = client, loop
        self._cond = threading.Condition()
        self._frame = None        # (seq, index, frame); seq counts offers (packet indices restart on reconnect)
        self._seq = -1
        self._jpeg = None         # (seq, index, bytes) cache
        self.closed = False
        self.bad_requests = 0
        viewer = self

        class Handler(_Handler):
            pass
        Handler.viewer = viewer
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}/"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="rac-viewer", daemon=True)

    def start(self):
        self._thread.start()
        log.info("viewer at %s", self.url)

    def close(self):
        with self._cond:
            self.closed = True
            self._cond.notify_all()
        time.sleep(0.05)   # let pending long-polls answer 410
        self.httpd.shutdown()
        self.httpd.server_close()

    def offer(self, frame: np.ndarray, rec):
        with self._cond:
            self._seq += 1
            self._frame = (self._seq, rec.index, frame)
            self._cond.notify_all()

    def wait_frame(self, after: int, timeout: float = 1.0):
        end = time.monotonic() + timeout
        with self._cond:
            while not self.closed and (self._frame is None or self._frame[0] <= after):
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            if self._frame is None or self._frame[0] <= after:
                return "closed"
            seq, idx, frame = self._frame
            if self._jpeg is None or self._jpeg[0] != seq:
                from PIL import Image

                buf = io.BytesIO()
                Image.fromarray(frame).save(buf, format="JPEG", quality=92)
                self._jpeg = (seq, idx, buf.getvalue())
            return self._jpeg

    def live_stats(self) -> dict:
        c = self.client
        st = c.stats
        recent = st.frames[-200:]
        shown = [r for r in recent if r.status == "displayed"][-100:]
        e2e = [(r.display - r.capture) * 1e3 for r in shown]
        g = [v * 1e3 for v in st.gaze_to_display[-50:]]
        now = time.monotonic()
        last_s = [r for r in recent if now - r.receive <= 1.0]
        counts = st.counts
        return {
            "last_index": recent[-1].index if recent else None,
            "codec": (c.header.settings.get("codec", "?") + (" (stand-in)" if is_standin(c.codec) else ""))
                     if c.codec and c.header else None,
            "e2e_ms_median": float(np.median(e2e)) if e2e else None,
            "e2e_ms_p95": float(np.percentile(e2e, 95)) if e2e else None,
            "gaze_ms_median": float(np.median(g)) if g else None,
            "kbps": sum(r.nbytes for r in last_s) * 8 / 1e3,
            "quality": recent[-1].quality if recent else None,
            "lost": counts["lost_in_network"], "dropped": counts["dropped_by_server"], "late": counts["late"],
            "displayed": counts["displayed"],
        }


class _Handler(BaseHTTPRequestHandler):
    viewer: Viewer = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):   # quiet: requests are many
        log.debug("http: " + fmt, *args)

    def _send(self, code, body=b"", ctype="text/plain", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _bad(self, code, why):
        self.viewer.bad_requests += 1
        log.warning("viewer: %s %s -> %d (%s)", self.command, self.path[:80], code, why)
        self._send(code, why.encode())

    def do_GET(self):
        u = urlparse(self.path)
        try:
            if u.path == "/":
                self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            elif u.path == "/frame":
                q = parse_qs(u.query)
                try:
                    after = int(q.get("after", ["-1"])[0])
                except ValueError:
                    return self._bad(400, "after must be an integer")
                r = self.viewer.wait_frame(after)
                if r is None:
                    self._send(204)
                elif r == "closed":
                    self._send(410, b"stream ended")
                else:
                    self._send(200, r[2], "image/jpeg", {"X-Frame-Seq": str(r[0]), "X-Frame-Index": str(r[1])})
            elif u.path == "/favicon.ico":
                self._send(204)
            elif u.path == "/stats":
                self._send(200, json.dumps(self.viewer.live_stats()).encode(), "application/json")
            else:
                self._bad(404, "not found")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _json_body(self):
        try:
            n = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            self._bad(413 if n > MAX_BODY else 411, f"body must have a length of at most {MAX_BODY} bytes")
            return None
        try:
            d = json.loads(self.rfile.read(n))
        except (UnicodeDecodeError, ValueError):
            self._bad(400, "body is not JSON")
            return None
        if not isinstance(d, dict):
            self._bad(400, "body must be a JSON object")
            return None
        return d

    def do_POST(self):
        t = time.monotonic()
        u = urlparse(self.path)
        try:
            if u.path not in ("/displayed", "/gaze"):
                return self._bad(404, "not found")
            d = self._json_body()
            if d is None:
                return
            v = self.viewer
            if u.path == "/displayed":
                idx = d.get("index")
                if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
                    return self._bad(400, "index must be a non-negative integer")
                v.loop.call_soon_threadsafe(v.client.on_displayed, idx, t)
            else:
                nx, ny = d.get("nx"), d.get("ny")
                ok = all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) and 0 <= a < 1
                         for a in (nx, ny))
                if not ok:
                    return self._bad(400, "nx and ny must be numbers in [0, 1)")
                v.loop.call_soon_threadsafe(_put_gaze, v.client, float(nx), float(ny))
            self._send(204)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _put_gaze(client, nx, ny):
    q = client.gaze_queue
    if q is None:
        return
    if q.full():
        q.get_nowait()   # newest wins
    q.put_nowait((nx, ny))
