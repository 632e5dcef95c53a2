"""tools/compare_entropy_models.py: the same symbols priced under several entropy models."""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import compare_entropy_models  # noqa: E402

from rac_video.codec import weights  # noqa: E402
from rac_video.codec.hyperprior import HyperPrior  # noqa: E402


def test_shipped_entropy_model_beats_an_untrained_one(tmp_path, image_folder):
    data = image_folder(64, 96)
    torch.manual_seed(0)
    C = weights.load_state(weights.DEFAULT_MODEL)[0]["g_a"]["scale"].shape[1]
    plain, uncond = tmp_path / "stage2.pt", tmp_path / "stage3.pt"
    torch.save({"modules": {"hyperprior": HyperPrior(C).state_dict()}}, plain)
    torch.save({"modules": {"hyperprior": HyperPrior(C, conditioned=False).state_dict()}}, uncond)
    out = tmp_path / "cmp.json"
    spec = f"shipped={weights.DEFAULT_MODEL},untrained={plain},uncond={uncond}"
    assert compare_entropy_models.main(["--entropy", spec, "--data", str(data), "--qualities", "3,9",
                                        "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    s = res["summary"]
    assert s["shipped"]["rate_vs_shipped"]["all"] == 1.0
    assert s["untrained"]["rate_vs_shipped"]["all"] > 1.0 and s["uncond"]["rate_vs_shipped"]["all"] > 1.0
    assert len(res["rows"]) == 4 and s["shipped"]["bpp"]["3"] < s["shipped"]["bpp"]["9"]
    hp, ctx = compare_entropy_models.load_entropy_model(str(uncond), C)
    assert not hp.conditioned and ctx is None
