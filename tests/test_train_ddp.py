"""rac-video train under torchrun: 2 CPU processes (gloo) for a few steps of stage 2 on a tiny latent
cache; the ranks end with identical weights, rank 0 alone writes, and rank 1's data differs from
rank 0's (the result differs from one process's)."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch


def _cache(folder):
    folder.mkdir()
    g = torch.Generator().manual_seed(0)
    torch.save(torch.randn(12, 16, 8, 8, generator=g), folder / "latents.pt")   # 12 latents of 64x64 crops
    return folder


ARGS = ["--stage", "2", "--steps", "3", "--batch", "2", "--minutes", "5", "--context", "--threads", "1"]


def test_train_two_processes_stay_in_sync(tmp_path):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available in this torch build")
    run2 = _cache(tmp_path / "ddp")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "--no-python",
           "--", shutil.which("rac-video") or "rac-video", "train", "--run", str(run2)] + ARGS
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    ck = torch.load(run2 / "stage2.pt", map_location="cpu", weights_only=False)
    assert ck["step"] == 3
    ddp = ck["extra"]["ddp"]
    assert ddp["world_size"] == 2 and ddp["in_sync"] and ddp["checksums"][0] == ddp["checksums"][1]
    lines = (run2 / "stage2.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["step"] == 3      # one writer (rank 0)
    assert sorted(p.name for p in run2.iterdir()) == ["latents.pt", "stage2.jsonl", "stage2.pt"]

    # one process, same options: rank 0 draws the same batches, so only rank 1's different data (averaged
    # into every step) can make the weights differ
    run1 = _cache(tmp_path / "single")
    r = subprocess.run([shutil.which("rac-video") or "rac-video", "train", "--run", str(run1)] + ARGS,
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    one = torch.load(run1 / "stage2.pt", map_location="cpu", weights_only=False)
    assert "ddp" not in one["extra"]
    diff = [k for k, v in one["modules"]["hyperprior"].items() if not torch.equal(v, ck["modules"]["hyperprior"][k])]
    assert diff
