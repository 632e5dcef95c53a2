"""tools/compare_denoisers.py: the same ŷ decoded by several denoisers (shipped or checkpoints)."""
import json
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import compare_denoisers  # noqa: E402

from rac_video.codec import load_model, weights  # noqa: E402
from rac_video.codec.denoiser import Denoiser  # noqa: E402


def test_shipped_denoiser_beats_an_untrained_one_on_the_same_latents(tmp_path, image_folder):
    data = image_folder(170, 180)
    ck = tmp_path / "stage1.pt"
    torch.manual_seed(0)
    torch.save({"modules": {"denoiser": Denoiser().state_dict()}}, ck)
    out = tmp_path / "cmp.json"
    assert compare_denoisers.main(["--denoisers", f"shipped={weights.DEFAULT_MODEL},untrained={ck}",
                                   "--data", str(data), "--qualities", "2", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert {r["denoiser"] for r in res["rows"]} == {"shipped", "untrained"}
    assert res["steps"] == load_model().steps                     # the model's own K
    s = res["summary"]
    assert s["shipped"]["2"]["psnr"] > s["untrained"]["2"]["psnr"]
    with pytest.raises(SystemExit):
        compare_denoisers.main(["--denoisers", "nothing"])
