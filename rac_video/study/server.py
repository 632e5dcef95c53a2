"""The study's local web server: a blind 2-AFC session over a prepared pairs directory, answers to CSV.

Endpoints (loopback only, ``http://127.0.0.1:PORT``):

* ``GET /``                              the page (``study.html``);
* ``GET /config``                        participant, number of trials, viewing mode, answered so far;
* ``GET /trial/N``                       trial N: kind, frames, fps, size, ROI (fixation, radius) — never
  the methods (the page only knows "left" and "right");
* ``GET /media/N/{left,right,source}/F.png``  frame F of a side (or of the source, when references are on);
* ``POST /answer``                       ``{"trial": N, "choice": "left"|"right", "response_ms": ms,
  "gaze_inside_share": 0..1 | null, "gaze_samples": n}`` — one answer per trial (a second one is 409);
* ``GET /summary``                       this session's preference summary (``study.stats.summarize``).

Trial order and sides are randomised per session (``random.Random(seed)``; the seed is recorded as
the session column ``<id>:<seed>``), each item shown ``repeats`` times with the sides drawn anew.
Every answer is appended to the CSV (``stats.CSV_FIELDS``) and flushed at once.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import random
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

from .prepare import MANIFEST, VERSION, StudyError
from .stats import CSV_FIELDS, summarize

log = logging.getLogger(__name__)

PAGE = Path(__file__).with_name("study.html")
MAX_BODY = 4096
_MEDIA = re.compile(r"^/media/(\d+)/(left|right|source)/(\d{1,5})\.png$")
_TRIAL = re.compile(r"^/trial/(\d+)$")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def load_manifest(pairs_dir) -> dict:
    """The manifest of a pairs directory, checked: version, two methods, items whose frames exist."""
    path = os.path.join(pairs_dir, MANIFEST)
    if not os.path.isfile(path):
        raise StudyError(f"{pairs_dir}: no {MANIFEST} (make one with rac-video study prepare)")
    try:
        with open(path) as f:
            man = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise StudyError(f"{path}: unreadable manifest ({e})") from None
    if not isinstance(man, dict) or man.get("version") != VERSION or len(man.get("methods", [])) != 2:
        raise StudyError(f"{path}: not a version-{VERSION} study manifest with two methods")
    if not man.get("items"):
        raise StudyError(f"{path}: no pairs (every source was left out?)")
    for it in man["items"]:
        for side in ("a", "b"):
            for t in range(int(it["frames"])):
                p = os.path.join(pairs_dir, it[side]["dir"], f"{t:05d}.png")
                if not os.path.isfile(p):
                    raise StudyError(f"{pairs_dir}: missing frame {p}")
    return man


class StudyServer:
    def __init__(self, pairs_dir, answers_csv, *, participant="anonymous", gaze=False, reference=False,
                 repeats=1, seed=None, port=0, host="127.0.0.1"):
        if host not in LOOPBACK:
            raise StudyError(f"the study serves on loopback only (127.0.0.1), not {host}")
        if not re.match(r"^[A-Za-z0-9._-]{1,64}$", participant or ""):
            raise StudyError("participant: 1-64 letters, digits, '.', '_' or '-'")
        if not 1 <= int(repeats) <= 100:
            raise StudyError("repeats must be in 1..100")
        self.pairs_dir = os.path.abspath(pairs_dir)
        self.manifest = load_manifest(self.pairs_dir)
        self.participant, self.gaze, self.reference = participant, bool(gaze), bool(reference)
        self.seed = secrets.randbits(32) if seed is None else int(seed)
        self.session = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}:{self.seed}"
        rng = random.Random(self.seed)
        trials = [it for it in self.manifest["items"] for _ in range(int(repeats))]
        rng.shuffle(trials)
        # swap: the left side shows method B
        self.trials = [(it, rng.random() < 0.5) for it in trials]
        self.answers = {}
        self.bad_requests = 0
        self._lock = threading.Lock()
        self.csv_path = os.path.abspath(answers_csv)
        self._open_csv()
        server = self

        class Handler(_Handler):
            pass
        Handler.server_ref = server
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://{host}:{self.port}/"
        self._thread = None
        self.finished = threading.Event()

    def _open_csv(self):
        if os.path.isdir(self.csv_path):
            raise StudyError(f"{self.csv_path} is a folder, not an answers file")
        if os.path.exists(self.csv_path) and os.path.getsize(self.csv_path) > 0:
            with open(self.csv_path, newline="") as f:
                head = next(csv.reader(f), [])
            if tuple(head) != CSV_FIELDS:
                raise StudyError(f"{self.csv_path} exists and is not a study answers file: choose another")
        else:
            d = os.path.dirname(self.csv_path)
            if d:
                os.makedirs(d, exist_ok=True)
            with open(self.csv_path, "w", newline="") as f:
                csv.writer(f).writerow(CSV_FIELDS)

    # ------------------------------------------------------------------ lifecycle
    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="rac-study", daemon=True)
        self._thread.start()
        return self

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)

    # ------------------------------------------------------------------ trials
    def side_method(self, index, side):
        it, swap = self.trials[index]
        key = {"left": "b" if swap else "a", "right": "a" if swap else "b"}[side]
        return it[key]

    def trial_info(self, index) -> dict:
        it, _ = self.trials[index]
        return {"index": index, "total": len(self.trials), "kind": it["kind"], "frames": int(it["frames"]),
                "fps": float(it.get("fps") or 25), "width": int(it["width"]), "height": int(it["height"]),
                "fixation": it.get("fixation"), "roi_radius": it.get("roi_radius"),
                "answered": index in self.answers}

    def media_path(self, index, side, frame):
        it, _ = self.trials[index]
        if frame >= int(it["frames"]):
            return None
        if side == "source":
            if not self.reference:
                return None
            d = os.path.join(os.path.dirname(it["a"]["dir"]), "source")
        else:
            d = self.side_method(index, side)["dir"]
        return os.path.join(self.pairs_dir, d, f"{frame:05d}.png")

    def record(self, index, choice, response_ms, inside_share, samples):
        it, _ = self.trials[index]
        left, right = self.side_method(index, "left"), self.side_method(index, "right")
        chosen = left if choice == "left" else right
        row = {"time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "participant": self.participant,
               "session": self.session, "trial": index, "item": it["id"], "kind": it["kind"],
               "left_method": left["method"], "right_method": right["method"], "choice": choice,
               "chosen_method": chosen["method"], "left_bytes": left["bytes"], "right_bytes": right["bytes"],
               "response_ms": round(float(response_ms), 1),
               "gaze_mode": "mouse-contingent" if self.gaze else "free",
               "gaze_inside_share": "" if inside_share is None else round(float(inside_share), 4),
               "gaze_samples": int(samples)}
        with self._lock:
            if index in self.answers:
                return False
            self.answers[index] = row
            with open(self.csv_path, "a", newline="") as f:
                csv.writer(f).writerow([row[k] for k in CSV_FIELDS])
            if len(self.answers) == len(self.trials):
                self.finished.set()
        return True

    def summary(self) -> dict:
        with self._lock:
            rows = [{k: str(v) for k, v in r.items()} for r in self.answers.values()]
        return summarize(rows)


class _Handler(BaseHTTPRequestHandler):
    server_ref: StudyServer = None
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        log.debug("study http: " + fmt, *args)

    def _send(self, code, body=b"", ctype="text/plain; charset=utf-8"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, obj, code=200):
        self._send(code, json.dumps(obj).encode(), "application/json")

    def _bad(self, code, why):
        self.server_ref.bad_requests += 1
        log.info("study: %s %s -> %d (%s)", self.command, self.path[:80], code, why)
        self._send(code, why.encode())

    def do_GET(self):
        s = self.server_ref
        path = urlparse(self.path).path
        if path in ("/", "/index.html"):
            return self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
        if path == "/config":
            return self._json({"participant": s.participant, "trials": len(s.trials), "gaze": s.gaze,
                               "reference": s.reference, "answered": len(s.answers)})
        if path == "/summary":
            return self._json(s.summary())
        m = _TRIAL.match(path)
        if m:
            i = int(m.group(1))
            if i >= len(s.trials):
                return self._bad(404, "no such trial")
            return self._json(s.trial_info(i))
        m = _MEDIA.match(path)
        if m:
            i, side, fr = int(m.group(1)), m.group(2), int(m.group(3))
            if i >= len(s.trials):
                return self._bad(404, "no such trial")
            p = s.media_path(i, side, fr)
            if p is None or not os.path.isfile(p):
                return self._bad(404, "no such frame")
            with open(p, "rb") as f:
                return self._send(200, f.read(), "image/png")
        return self._bad(404, "not found")

    def do_POST(self):
        s = self.server_ref
        if urlparse(self.path).path != "/answer":
            return self._bad(404, "not found")
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return self._bad(400, "bad Content-Length")
        if n > MAX_BODY:
            self.close_connection = True
            return self._bad(413, "body too large")
        try:
            body = json.loads(self.rfile.read(n) or b"null")
            i, choice = body["trial"], body["choice"]
            rt = float(body.get("response_ms", 0))
            share = body.get("gaze_inside_share")
            share = None if share is None else float(share)
            samples = int(body.get("gaze_samples", 0))
        except (ValueError, KeyError, TypeError):
            return self._bad(400, "expected JSON {trial, choice, response_ms}")
        if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(s.trials):
            return self._bad(400, "no such trial")
        if choice not in ("left", "right"):
            return self._bad(400, "choice must be left or right")
        if not (0 <= rt < 3.6e6) or (share is not None and not 0 <= share <= 1) or samples < 0:
            return self._bad(400, "response_ms / gaze values out of range")
        if not s.record(i, choice, rt, share, samples):
            return self._bad(409, "trial already answered")
        self._send(204)
