"""tools/ablation_denoiser.py: the same ŷ decoded by the spatially varying and the uniform-t denoiser,
elementwise and with the global clock; sv-elementwise must be the codec's own decoder (fusion off)."""
import json
import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import ablation_denoiser  # noqa: E402

from rac_video.codec import weights  # noqa: E402
from rac_video.codec.denoiser import Denoiser  # noqa: E402
from rac_video.eval.report import check_record  # noqa: E402


@pytest.fixture
def setup(tmp_path, image_folder):
    data = image_folder(170, 180)
    run = tmp_path / "run"
    run.mkdir()
    torch.manual_seed(0)
    torch.save({"modules": {"denoiser": Denoiser().state_dict()}, "step": 7, "extra": {"seconds": 3.0}},
               run / "stage1u.pt")
    return data, run


def test_shipped_sv_net_vs_an_untrained_uniform_t_net(setup, tmp_path):
    data, run = setup
    out = tmp_path / "abl.json"
    # the tool asserts that its sv-elementwise pixels equal decode_image's (with the model's posterior
    # fusion switched off): a default model with fusion on must not break that check
    assert ablation_denoiser.main(["--run", str(run), "--data", str(data), "--qualities", "2", "--steps", "1",
                                   "--out", str(out)]) == 0
    res = check_record(json.loads(out.read_text()))
    assert res["model"] == weights.DEFAULT_MODEL and res["sv_denoiser"] == "shipped"
    assert res["uniform_t_denoiser"]["steps"] == 7
    s = res["summary_mean_over_images_maps_qualities"]
    assert set(s) == {"none K=0"} | {f"{v} K=1" for v in ablation_denoiser.VARIANTS}
    assert s["sv-elementwise K=1"]["psnr"] > s["uniform-elementwise K=1"]["psnr"]     # trained vs untrained


def test_sv_checkpoint_replaces_the_shipped_net(setup, tmp_path):
    data, run = setup
    out = tmp_path / "abl.json"
    assert ablation_denoiser.main(["--run", str(run), "--sv", str(run / "stage1u.pt"), "--data", str(data),
                                   "--qualities", "2", "--steps", "1", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["sv_denoiser"]["checkpoint"].endswith("stage1u.pt")
    s = res["summary_mean_over_images_maps_qualities"]
    # the same network on both sides: the two elementwise variants give the same pixels
    assert s["sv-elementwise K=1"] == s["uniform-elementwise K=1"]
    assert ablation_denoiser.main(["--run", str(run), "--sv", str(tmp_path / "missing.pt"), "--data", str(data)]) == 2
