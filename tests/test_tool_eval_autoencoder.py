"""tools/eval_autoencoder.py: the clean-latent ceiling of a shipped model or a run checkpoint."""
import json
import os
import sys

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import eval_autoencoder  # noqa: E402

from rac_video.codec import weights  # noqa: E402
from rac_video.codec.autoencoder import Analysis, Synthesis  # noqa: E402
from rac_video.eval.report import check_record  # noqa: E402


def test_round_trip_crops_odd_sizes_and_reports_both_sources(tmp_path):
    if weights.DEFAULT_MODEL not in weights.available():
        pytest.skip("shipped weights not installed")
    rng = np.random.default_rng(0)
    data = tmp_path / "imgs"
    data.mkdir()
    for i, (h, w) in enumerate(((171, 165), (176, 180))):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run"                     # a run checkpoint: an untrained autoencoder
    run.mkdir()
    torch.save({"modules": {"g_a": Analysis().state_dict(), "g_s": Synthesis().state_dict()}, "step": 7,
                "extra": {"seconds": 1.0}}, run / "stage0.pt")
    out = tmp_path / "ceiling.json"
    assert eval_autoencoder.main(["--source", weights.DEFAULT_MODEL, "--source", str(run),
                                  "--data", str(data), "--out", str(out)]) == 0
    res = check_record(json.loads(out.read_text()))
    assert res["model"] is None       # several models: each row names its own
    shipped, untrained = res["rows"]
    assert shipped["model"] == weights.DEFAULT_MODEL and untrained["step"] == 7
    assert len(res["images"]) == 2 and shipped["psnr"] > untrained["psnr"]
    g_a, g_s, _ = eval_autoencoder.load_transforms(weights.DEFAULT_MODEL)
    img = np.asarray(Image.open(data / "0.png"))
    rec = eval_autoencoder.round_trip(g_a, g_s, img)
    assert rec.shape == img.shape and rec.dtype == np.uint8


def test_no_images_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="no PNG images"):
        eval_autoencoder.main(["--data", str(tmp_path), "--out", str(tmp_path / "x.json")])
