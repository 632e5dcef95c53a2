"""tools/train_burst.sh --cpu-smoke: the GPU burst's exact steps (stages 0-2 of rac-small, the export) on the CPU,
then a second burst that resumes the run; the exported model codes an image."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "train_burst.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _images(folder: Path, n: int = 6) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:160, 0:192]
    for i in range(n):
        img = np.stack([(xx * (2 + i)) % 256, (yy * 3) % 256, ((xx + yy) * (1 + i)) % 256], -1)
        img = img + rng.integers(0, 40, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def _burst(out: Path, data: Path, *extra) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATA=str(data), BUDGET_S="6", THREADS="1", PYTHON=sys.executable, OMP_NUM_THREADS="1")
    return subprocess.run(["bash", str(SCRIPT), "--cpu-smoke", *extra, str(out)], env=env, capture_output=True,
                          text=True, timeout=600)


def _steps(run: Path, stage: str) -> int:
    return json.loads((run / f"stage{stage}.jsonl").read_text().splitlines()[-1])["step"]


def test_cpu_smoke_burst_trains_exports_and_resumes(tmp_path, monkeypatch):
    data = _images(tmp_path / "train")
    first = tmp_path / "b1"
    r = _burst(first, data)
    assert r.returncode == 0, r.stdout + r.stderr + (first / "burst.log").read_text()
    summary = (first / "summary.txt").read_text()
    assert "train_burst: cpu-smoke arch=rac-small" in summary
    for name in ("stage0", "stage1", "stage2", "export"):
        assert f"{name} rc=0" in summary, summary
    record = json.loads((first / "weights" / "rac-small-burst.json").read_text())
    assert record["weights_format"] == 2 and record["architecture"]["latent_channels"] == 32
    assert 5e6 <= record["parameters"] <= 15e6, record["parameters"]
    assert not (first / "run" / "latents.pt").exists()

    # the next burst continues the same run: every stage adds steps to the checkpoint it resumes
    second = tmp_path / "b2"
    r = _burst(second, data, "--resume", str(first / "run"))
    assert r.returncode == 0, r.stdout + r.stderr + (second / "burst.log").read_text()
    for s in ("0", "1", "2"):
        assert _steps(second / "run", s) > _steps(first / "run", s), s

    # the exported weights are an installable model: they code an image and decode it again
    monkeypatch.setenv("RAC_VIDEO_WEIGHTS", str(second / "weights"))
    from rac_video.codec.image import decode_image, encode_image
    from rac_video.codec.model import Codec

    codec = Codec("rac-small-burst")
    img = np.asarray(Image.open(data / "0.png"))[:128, :128]
    out = decode_image(encode_image(img, quality=8, model=codec), model=codec)
    assert out.shape == img.shape and out.dtype == np.uint8


def test_burst_refuses_bad_arguments(tmp_path):
    r = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr
    r = subprocess.run(["bash", str(SCRIPT), "--cpu-smoke", "--resume", str(tmp_path / "none"), str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=60, env=dict(os.environ, DATA=str(_images(tmp_path / "d", 1))))
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = subprocess.run(["bash", str(SCRIPT), "--cpu-smoke", str(tmp_path / "o2")], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, DATA=str(tmp_path / "missing")))
    assert r.returncode == 2 and "no training images" in r.stderr
