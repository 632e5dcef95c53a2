"""tools/arch_experiments.py: candidates that build, and the rate–distortion proxy of trained runs."""
import json
import os
import sys

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import arch_experiments  # noqa: E402

from rac_video.codec import train  # noqa: E402
from rac_video.codec.weights import Architecture, build_module  # noqa: E402
from rac_video.eval.report import check_record  # noqa: E402


def test_candidates_round_trip_and_differ_from_small_in_one_choice():
    cands = arch_experiments.candidates()
    small = cands["small"]
    for name, arch in cands.items():
        assert Architecture.from_record(json.loads(json.dumps(arch.to_record()))) == arch
        if name.startswith("small-"):
            changed = [k for k, v in arch.to_record().items() if v != small.to_record()[k]]
            assert len(changed) == 1 or set(changed) == {"analysis", "synthesis"}, (name, changed)
    assert cands["small"].factor == 16 and cands["f8-c32"].factor == 8 and cands["small-gdn"].gdn


def test_entropy_bits_are_the_empirical_information():
    k = np.array([[0, 0, 1, 1], [5, 5, 5, 5]])
    bits = arch_experiments._entropy_bits(k)
    np.testing.assert_allclose(bits, [[1, 1, 1, 1], [0, 0, 0, 0]])


def test_eval_measures_each_run_and_rates_fall_with_the_step(tmp_path):
    rng = np.random.default_rng(0)
    data, kodak = tmp_path / "train", tmp_path / "kodak"
    data.mkdir()
    kodak.mkdir()
    yy, xx = np.mgrid[0:176, 0:192]
    for i in range(2):
        img = np.stack([(xx * (3 + i)) % 256, (yy * 2) % 256, ((xx + yy) * 2) % 256], -1) + rng.integers(0, 30, (176, 192, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(data / f"{i}.png")
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(kodak / f"{i + 1}.png")
    runs = tmp_path / "runs"
    small = Architecture(latent_channels=4, analysis=((8, 0), (8, 0), (8, 0)), synthesis=((8, 0),) * 4)
    for name, arch in (("tiny", Architecture()), ("mini", small)):
        spec = tmp_path / f"{name}.json"
        arch.save(spec)
        assert train.main(["--stage", "0", "--run", str(runs / name), "--arch", str(spec), "--data", str(data),
                           "--steps", "2", "--batch", "2", "--crop", "128", "--threads", "1"]) == 0
    out = tmp_path / "eval.json"
    assert arch_experiments.main(["eval", "--runs", str(runs), "--data", str(kodak), "--images", "1-2",
                                  "--out", str(out)]) == 0
    res = check_record(json.loads(out.read_text()))
    assert res["command"].startswith("python tools/arch_experiments.py eval") and res["model"] is None
    assert set(res["models"]) == {"tiny", "mini"}
    for name, m in res["models"].items():
        bpp = m["mean"]["bpp"]
        assert len(bpp) == len(arch_experiments.DELTAS) and all(a >= b for a, b in zip(bpp, bpp[1:])), bpp
        assert len(m["per_image"]) == 2 and m["steps"] == 2
        n = sum(p.numel() for k in ("g_a", "g_s") for p in build_module(k, Architecture.from_record(m["architecture"])).parameters())
        assert m["autoencoder_parameters"] == n
    assert res["models"]["tiny"]["bd_rate_psnr_vs_tiny"] == pytest.approx(0.0)
    with pytest.raises(SystemExit, match="unknown candidates"):
        arch_experiments.main(["train", "--runs", str(tmp_path / "r"), "--only", "huge"])
