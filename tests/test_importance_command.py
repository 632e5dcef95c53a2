"""rac-video importance (rac_video/commands/importance.py)."""
import argparse
import json

import numpy as np
import pytest
from PIL import Image

from rac_video.commands import importance as cmd


def _args(argv):
    p = argparse.ArgumentParser()
    cmd.add_arguments(p)
    return p.parse_args(argv)


def test_command_frames_folder_json_and_overlay(tmp_path, capsys):
    rng = np.random.default_rng(0)
    d = tmp_path / "frames"
    d.mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3)).astype(np.uint8)).save(d / f"{i:03d}.png")
    argv = [str(d), "--spec", "boxes:0,0,16,16", "--json"]
    if pytest.importorskip("av"):
        argv += ["--overlay", str(tmp_path / "o.mp4")]
    assert cmd.run(_args(argv)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frames"] == 3 and out["latent_hw"] == [4, 6] and out["side_info_bytes"]["max"] > 9
    assert (tmp_path / "o.mp4").stat().st_size > 0


def test_command_without_input(capsys):
    assert cmd.run(_args(["--spec", "uniform", "--size", "64x32", "--count", "5"])) == 0
    assert "mean 9.0 B" in capsys.readouterr().out
    with pytest.raises(ValueError):
        cmd.run(_args(["--spec", "uniform"]))
