"""The 2-AFC study: pairs at matched bytes, the server's endpoints and CSV, the statistics, and the page
end to end in headless Chromium (when Debian's ``chromium`` and the ``playwright`` package are installed;
it drives the system browser through ``executable_path``, as tests/test_stream_viewer.py does)."""
import csv
import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from rac_video.cli import main
from rac_video.study import StudyError, prepare_pairs
from rac_video.study.server import StudyServer, load_manifest
from rac_video.study.stats import CSV_FIELDS, binomial_test, summarize, wilson_interval

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _image(seed, h=64, w=96):
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 60 * np.sin(xx / (4.0 + seed)), 128 + 50 * np.cos(yy / 5.0), (3 * xx + yy) % 256], -1)
    return np.clip(base + g.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Two images and a 3-frame clip, JPEG vs x264 (intra) matched to 1.5 bpp."""
    out = tmp_path_factory.mktemp("study") / "pairs"
    clip = np.stack([np.roll(_image(2), 2 * t, axis=1) for t in range(3)])
    man = prepare_pairs({"im0": _image(0), "im1": _image(1), "clip": clip}, ["jpeg", "x264-intra"], str(out),
                        bpp=1.5, tol=0.1, fps=10, log=lambda *a: None)
    return str(out), man


# ------------------------------------------------------------------------------------------ statistics
def test_wilson_and_binomial_known_values():
    lo, hi = wilson_interval(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)
    lo, hi = wilson_interval(0, 20)
    assert lo == 0.0 and round(hi, 4) == 0.1611
    assert wilson_interval(50, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert binomial_test(8, 10) == pytest.approx(0.109375)
    assert binomial_test(5, 10) == pytest.approx(1.0)
    assert binomial_test(0, 10) == pytest.approx(2 / 1024)
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_summarize_counts_per_pair_item_participant():
    rows = []
    for i in range(12):
        left, right = ("A", "B") if i % 2 else ("B", "A")
        chosen = "A" if i < 9 else "B"
        rows.append({"left_method": left, "right_method": right, "chosen_method": chosen,
                     "choice": "left" if chosen == left else "right", "item": f"it{i % 3}",
                     "participant": "p1" if i < 6 else "p2"})
    s = summarize(rows)
    (c,) = s["comparisons"]
    assert (c["a"], c["b"], c["k"], c["n"]) == ("A", "B", 9, 12)
    assert c["ci"] == pytest.approx(list(wilson_interval(9, 12)))
    assert c["p_value"] == pytest.approx(binomial_test(9, 12))
    assert sum(v["n"] for v in c["per_item"].values()) == 12
    assert c["per_participant"]["p1"]["k"] == 6 and c["per_participant"]["p2"]["k"] == 3


# ------------------------------------------------------------------------------------------ pairs
def test_prepare_matches_bytes_and_writes_frames(pairs):
    root, man = pairs
    assert man["methods"] == ["jpeg", "x264-intra"] and man["items"]
    assert {it["name"] for it in man["items"] + man["excluded"]} == {"im0", "im1", "clip"}
    for it in man["items"]:
        assert it["rel_diff"] <= 0.1
        assert abs(it["a"]["bytes"] / it["b"]["bytes"] - 1) <= 0.1
        for side in ("a", "b", "source"):
            d = os.path.join(root, it["id"], side)
            assert sorted(os.listdir(d)) == [f"{t:05d}.png" for t in range(it["frames"])]
        assert it["fixation"] == pytest.approx([47.5, 31.5], abs=0.6) and it["roi_radius"] > 5
    assert load_manifest(root)["items"] == man["items"]
    with pytest.raises(StudyError, match="already holds"):
        prepare_pairs({"x": _image(0)}, ["jpeg", "x264"], root, bpp=1.0)
    with pytest.raises(StudyError, match="two different"):
        prepare_pairs({"x": _image(0)}, ["jpeg", "jpeg"], root + "2", bpp=1.0)
    with pytest.raises(StudyError, match="quality"):
        prepare_pairs({"x": _image(0)}, ["ours", "jpeg"], root + "2")


def test_prepare_ours_modes_share_one_bitstream(monkeypatch, tmp_path):
    """ours vs ours-realism: the same bytes exactly (a decoder-side choice), different pictures."""
    from test_eval_realism_run import _fake, _RealismCodec

    _fake(monkeypatch, _RealismCodec)
    man = prepare_pairs({"im0": _image(0)}, ["ours", "ours-realism"], str(tmp_path / "p"), quality=40,
                        realism=1.0, log=lambda *a: None)
    (it,) = man["items"]
    assert it["a"]["bytes"] == it["b"]["bytes"] and it["rel_diff"] == 0
    from PIL import Image

    a, b = (np.asarray(Image.open(tmp_path / "p" / it["id"] / s / "00000.png")) for s in ("a", "b"))
    assert not np.array_equal(a, b)


# ------------------------------------------------------------------------------------------ server
def _req(url, data=None):
    body = None if data is None else (data if isinstance(data, bytes) else json.dumps(data).encode())
    r = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET",
                               headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_server_blind_randomised_and_records(pairs, tmp_path):
    root, man = pairs
    n_items = len(man["items"])
    answers = tmp_path / "answers.csv"
    srv = StudyServer(root, answers, participant="p1", repeats=8, seed=3).start()
    try:
        u = srv.url
        st, cfg = _req(u + "config")
        assert st == 200 and json.loads(cfg)["trials"] == 8 * n_items
        swaps = [sw for _, sw in srv.trials]
        assert any(swaps) and not all(swaps)                      # both side assignments occur
        st, t0 = _req(u + "trial/0")
        info = json.loads(t0)
        assert st == 200 and not any(m in t0.decode() for m in ("jpeg", "x264"))   # blind
        it, swap = srv.trials[0]
        for side, key in (("left", "b" if swap else "a"), ("right", "a" if swap else "b")):
            st, png = _req(u + f"media/0/{side}/0.png")
            with open(os.path.join(root, it[key]["dir"], "00000.png"), "rb") as f:
                assert st == 200 and png == f.read()
        assert _req(u + "media/0/source/0.png")[0] == 404        # no reference unless asked for
        assert _req(u + f"media/0/left/{info['frames']}.png")[0] == 404
        assert _req(u + "answer", {"trial": 0, "choice": "left", "response_ms": 812.5})[0] == 204
        assert _req(u + "answer", {"trial": 0, "choice": "right", "response_ms": 900})[0] == 409
        assert _req(u + "answer", {"trial": 1, "choice": "up", "response_ms": 1})[0] == 400
        assert _req(u + "answer", {"trial": 10 ** 6, "choice": "left"})[0] == 400
        assert _req(u + "answer", b"not json")[0] == 400
        assert _req(u + "answer", b"x" * 10000)[0] == 413
        assert _req(u + "trial/999")[0] == 404 and _req(u + "nothing")[0] == 404
        assert srv.bad_requests == 9
    finally:
        srv.close()
    rows = list(csv.DictReader(open(answers)))
    assert len(rows) == 1 and tuple(rows[0]) == CSV_FIELDS
    r = rows[0]
    left = it["b" if swap else "a"]
    assert r["choice"] == "left" and r["chosen_method"] == left["method"] and r["left_bytes"] == str(left["bytes"])
    assert r["participant"] == "p1" and r["response_ms"] == "812.5" and r["session"].endswith(":3")
    # the same seed gives the same order and sides; the answers file is appended to
    again = StudyServer(root, answers, repeats=8, seed=3)
    assert [(t["id"], s) for t, s in again.trials] == [(t["id"], s) for t, s in srv.trials]
    again.httpd.server_close()
    with pytest.raises(StudyError, match="not a study answers file"):
        (tmp_path / "other.csv").write_text("a,b\n1,2\n")
        StudyServer(root, tmp_path / "other.csv")
    with pytest.raises(StudyError, match="loopback"):
        StudyServer(root, tmp_path / "x.csv", host="0.0.0.0")


def test_cli_errors_and_summary(pairs, tmp_path, capsys):
    root, _ = pairs
    assert main(["study"]) == 2
    assert main(["study", "serve", str(tmp_path), "--answers", str(tmp_path / "a.csv")]) == 2   # no manifest
    assert main(["study", "prepare", str(tmp_path / "none"), "--methods", "jpeg,x264", "--out",
                 str(tmp_path / "o"), "--bpp", "1"]) == 2
    assert main(["study", "prepare", root, "--methods", "jpeg,nonsense", "--out", str(tmp_path / "o"),
                 "--bpp", "1"]) == 2
    f = tmp_path / "answers.csv"
    with open(f, "w", newline="") as fh:
        w = csv.DictWriter(fh, CSV_FIELDS)
        w.writeheader()
        for i in range(10):
            w.writerow({"left_method": "jpeg", "right_method": "x264-intra", "choice": "left" if i < 7 else "right",
                        "chosen_method": "jpeg" if i < 7 else "x264-intra", "item": "im0", "participant": "p"})
    capsys.readouterr()
    assert main(["study", "summary", str(f)]) == 0
    out = capsys.readouterr().out
    assert "jpeg preferred over x264-intra: 7/10 = 70.0%" in out and "39.7%–89.2%" in out


# ------------------------------------------------------------------------------------------ browser
def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@pytest.fixture
def browser():
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    pw = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync"])
        try:
            yield b
        finally:
            b.close()


def test_study_page_free_viewing_in_chromium(pairs, tmp_path, browser):
    root, man = pairs
    answers = tmp_path / "answers.csv"
    srv = StudyServer(root, answers, participant="web", repeats=2, seed=11, reference=True).start()
    pressed = []
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(srv.url)
        page.wait_for_function("document.body.dataset.intro === '1'", timeout=10000)
        page.keyboard.press(" ")
        for i in range(len(srv.trials)):
            page.wait_for_function(f"document.body.dataset.trial === '{i}' && document.body.dataset.ready === '1'",
                                   timeout=10000)
            assert page.locator("#c1").is_visible() and page.locator("#c2").is_visible()
            assert page.locator("#ref").is_visible()
            key = ("ArrowLeft", "j", "f", "ArrowRight")[i % 4]
            page.wait_for_timeout(30)
            page.keyboard.press(key)
            pressed.append("left" if key in ("ArrowLeft", "f") else "right")
        page.wait_for_function("document.body.dataset.done === '1'", timeout=10000)
        assert "thank you" in page.locator("#msg").text_content()
    finally:
        srv.close()
    rows = list(csv.DictReader(open(answers)))
    assert [r["choice"] for r in sorted(rows, key=lambda r: int(r["trial"]))] == pressed
    for r in rows:
        i = int(r["trial"])
        assert r["chosen_method"] == srv.side_method(i, r["choice"])["method"]
        assert float(r["response_ms"]) > 0 and r["gaze_mode"] == "free"
    assert {r["item"] for r in rows} == {it["id"] for it in man["items"]}


def test_study_page_mouse_contingent_in_chromium(pairs, tmp_path, browser):
    root, man = pairs
    answers = tmp_path / "answers.csv"
    srv = StudyServer(root, answers, participant="gaze", gaze=True, seed=5).start()
    try:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(srv.url)
        page.wait_for_function("document.body.dataset.intro === '1'", timeout=10000)
        page.keyboard.press(" ")
        page.wait_for_function("document.body.dataset.trial === '0' && document.body.dataset.ready === '1'",
                               timeout=10000)
        assert not page.locator("#c2").is_visible()          # one picture at a time
        info = srv.trial_info(0)
        box = page.locator("#c1").bounding_box()
        sx, sy = box["width"] / info["width"], box["height"] / info["height"]
        fx, fy = info["fixation"]
        page.mouse.move(box["x"] + 2, box["y"] + 2)            # a corner: outside the ROI, the picture hides
        page.wait_for_function("document.body.dataset.visible === '0'", timeout=5000)
        for k in range(6):                                     # the gaze settles on the fixation cross
            page.mouse.move(box["x"] + (fx + k - 3) * sx, box["y"] + fy * sy)
        page.wait_for_function("document.body.dataset.visible === '1'", timeout=5000)
        page.keyboard.press(" ")                               # the second picture
        page.wait_for_function("document.body.dataset.interval === '2'", timeout=5000)
        page.keyboard.press("2")
        page.wait_for_function("Number(document.body.dataset.answered) === 1", timeout=10000)
        deadline = time.monotonic() + 5
        while not srv.answers and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        srv.close()
    (r,) = list(csv.DictReader(open(answers)))
    assert r["choice"] == "right" and r["gaze_mode"] == "mouse-contingent"
    assert int(r["gaze_samples"]) >= 7 and 0 < float(r["gaze_inside_share"]) < 1
    assert r["chosen_method"] == srv.side_method(0, "right")["method"]


def test_cli_serve_until_every_trial_is_answered(pairs, tmp_path):
    import re
    import subprocess

    root, man = pairs
    answers = tmp_path / "cli.csv"
    p = subprocess.Popen([sys.executable, "-m", "rac_video.cli", "study", "serve", root, "--answers", str(answers),
                          "--port", "0", "--seed", "1", "--exit-when-done"], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        m = re.search(r"(\d+) trials at (http://127\.0\.0\.1:\d+/)", line)
        assert m, line
        n, url = int(m.group(1)), m.group(2)
        assert n == len(man["items"])
        for i in range(n):
            assert _req(url + "answer", {"trial": i, "choice": "right", "response_ms": 100 + i})[0] == 204
        assert p.wait(timeout=20) == 0
    finally:
        if p.poll() is None:
            p.kill()
    rows = list(csv.DictReader(open(answers)))
    assert len(rows) == n and {r["choice"] for r in rows} == {"right"}
