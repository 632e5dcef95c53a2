"""Browser viewer: its HTTP endpoints (always), and the real page in headless Chromium (when installed).

The browser test needs Debian's ``chromium`` and the ``playwright`` Python package (it drives the
system browser through ``executable_path``; no browser download). CI installs both (see
docs/streaming.md); elsewhere it skips.
"""
import asyncio
import json
import shutil
import threading
import time
import urllib.error
import urllib.request

import pytest

from rac_video.stream.client import ClientConfig, StreamClient
from rac_video.stream.server import ServerConfig, StreamServer

SIZE = (160, 96)


class Harness:
    """Server + client with the viewer, on an event loop in a background thread."""

    def __init__(self, fps=30):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.fps = fps
        self._call(self._start())

    def _call(self, coro, timeout=60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self):
        self.server = StreamServer(ServerConfig(codec="jpeg", size=SIZE, fps=self.fps))
        port = await self.server.start()
        self.client = StreamClient(ClientConfig(port=port, gaze="viewer", viewer_port=0))
        self.task = asyncio.create_task(self.client.run())
        while self.client.viewer is None:
            await asyncio.sleep(0.01)
        self.url = self.client.viewer.url

    async def _close(self):
        self.client.stop.set()
        done, _ = await asyncio.wait({self.task}, timeout=30)
        if not done:   # show where it hangs before failing
            import sys
            for t in asyncio.all_tasks():
                t.print_stack(file=sys.stderr)
            raise TimeoutError("the client did not stop within 30 s")
        await self.server.close()

    def close(self):
        try:
            self._call(self._close())
        except Exception:
            import faulthandler
            import sys
            faulthandler.dump_traceback(sys.stderr, all_threads=True)
            for t in asyncio.all_tasks(self.loop):
                t.print_stack(file=sys.stderr)
            raise
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    def session(self):
        return next(iter(self.server.sessions.values()), None)


@pytest.fixture
def harness():
    h = Harness()
    yield h
    h.close()


def _req(url, data=None, timeout=5):
    body = None if data is None else (data if isinstance(data, bytes) else json.dumps(data).encode())
    r = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                               headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_viewer_endpoints(harness):
    u = harness.url
    st, _, page = _req(u)
    assert st == 200 and b"/frame?after=" in page
    st, hdr, jpg = _req(u + "frame?after=-1")
    assert st == 200 and jpg[:2] == b"\xff\xd8"
    idx, seq = int(hdr["X-Frame-Index"]), int(hdr["X-Frame-Seq"])
    st, hdr2, _ = _req(u + f"frame?after={seq}")
    assert st in (200, 204) and (st == 204 or int(hdr2["X-Frame-Seq"]) > seq)
    assert _req(u + "displayed", {"index": idx})[0] == 204
    for _ in range(100):
        if harness.client.stats.counts["displayed"]:
            break
        time.sleep(0.02)
    assert harness.client.stats.counts["displayed"] == 1
    assert _req(u + "gaze", {"nx": 0.25, "ny": 0.5})[0] == 204
    for _ in range(200):
        s = harness.session()
        if s is not None and s.gaze.received:
            break
        time.sleep(0.02)
    g = harness.session().gaze.latest.sample
    assert (g.x, g.y) == (pytest.approx(0.25 * SIZE[0]), pytest.approx(0.5 * SIZE[1]))
    # malformed requests: clear 4xx answers, the stream goes on
    assert _req(u + "gaze", {"nx": 2, "ny": 0.5})[0] == 400
    assert _req(u + "gaze", b"not json")[0] == 400
    assert _req(u + "gaze", b"x" * 10000)[0] == 413
    assert _req(u + "displayed", {"index": "7"})[0] == 400
    assert _req(u + "frame?after=abc")[0] == 400
    assert _req(u + "nothing")[0] == 404
    st, _, body = _req(u + "stats")
    s = json.loads(body)
    assert st == 200 and s["displayed"] == 1 and s["codec"] == "jpeg (stand-in)"
    assert harness.client.viewer.bad_requests == 6


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def test_viewer_in_headless_chromium(harness):
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    pw = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with pw.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--disable-sync"])
        try:
            page = browser.new_page()
            page.goto(harness.url)
            page.wait_for_function("Number(document.body.dataset.painted) >= 5", timeout=8000)
            box = page.locator("#v").bounding_box()
            for k in range(20):   # the mouse is the gaze
                page.mouse.move(box["x"] + box["width"] * (0.2 + 0.03 * k), box["y"] + box["height"] * 0.6)
                page.wait_for_timeout(20)
            page.wait_for_function("Number(document.body.dataset.gazeSent) >= 3", timeout=5000)
            deadline = time.monotonic() + 5
            stats = harness.client.stats
            while time.monotonic() < deadline and not stats.gaze_to_display:
                page.wait_for_timeout(50)
            page.wait_for_function("document.getElementById('stats').textContent.includes('end-to-end')",
                                   timeout=5000)
            text = page.locator("#stats").text_content()
        finally:
            browser.close()
    sess = harness.session()
    assert sess.gaze.received >= 3 and sess.gaze.bad == 0
    g = sess.gaze.latest.sample
    assert 0.2 * SIZE[0] - 1 <= g.x <= 0.8 * SIZE[0] and abs(g.y - 0.6 * SIZE[1]) < 2
    assert stats.counts["displayed"] >= 5                 # painted frames were reported back
    assert stats.gaze_to_display                          # a gaze sample reached the screen
    assert "kbit/s" in text and "stand-in" in text
