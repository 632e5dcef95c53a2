"""Training end to end on a few synthetic images: every stage runs, resumes, and exports weights
that the codec loads (hash-checked) and round-trips an image with."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from rac_video.codec import train
from rac_video.codec import weights


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("train-data")
    rng = np.random.default_rng(0)
    for i in range(3):
        yy, xx = np.mgrid[0:184, 0:176]
        img = np.stack([(xx * (i + 2)) % 256, (yy * 3) % 256, (xx + yy) % 256], -1) + rng.integers(0, 30, (184, 176, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"{i}.png")
    return d


def _stage(run, data, stage, steps, *extra):
    args = ["--stage", stage, "--run", str(run), "--data", str(data), "--steps", str(steps), "--minutes", "5",
            "--batch", "2", "--crop", "64", "--cache-crops", "50", "--threads", "1", *extra]
    assert train.main(args) == 0
    return torch.load(run / f"stage{stage}.pt", map_location="cpu", weights_only=False)


def test_all_stages_resume_and_export(tmp_path, data_dir, monkeypatch):
    run = tmp_path / "run"
    ck = _stage(run, data_dir, "0", 3)
    assert ck["step"] == 3
    ck = _stage(run, data_dir, "0", 5)                              # resumes, does not restart
    logged = [json.loads(line) for line in (run / "stage0.jsonl").read_text().splitlines()]
    assert ck["step"] == 5 and [r["step"] for r in logged] == [3, 5] and "psnr" in logged[-1]
    for stage in ("1", "1u", "2", "3", "4"):
        assert _stage(run, data_dir, stage, 2)["step"] == 2
    ck2 = torch.load(run / "stage2.pt", map_location="cpu", weights_only=False)
    assert ck2["extra"]["schedule_version"] == train.schedule.SCHEDULE_VERSION
    # stage 4 fine-tunes g_s only: g_a in its checkpoint is untouched, g_s moved
    g_s0 = torch.load(run / "stage0.pt", map_location="cpu", weights_only=False)["modules"]["g_s"]
    g_s4 = torch.load(run / "stage4.pt", map_location="cpu", weights_only=False)["modules"]["g_s"]
    assert any(not torch.equal(g_s0[k], g_s4[k]) for k in g_s0)
    out = tmp_path / "weights"
    assert train.main(["--run", str(run), "--export", str(out), "--name", "tiny-test"]) == 0
    record = json.loads((out / "tiny-test.json").read_text())
    assert record["schedule_version"] == train.schedule.SCHEDULE_VERSION and "stage4" in record["stages"]
    state = torch.load(out / "tiny-test.pt", weights_only=True)
    assert all(torch.equal(state["g_s"][k], g_s4[k]) for k in g_s4)   # stage 4's decoder is shipped

    monkeypatch.setenv(weights.WEIGHTS_ENV, str(out))
    from rac_video.codec import decode_image, encode_image
    from rac_video.codec.model import Codec

    codec = Codec("tiny-test")
    img = np.asarray(Image.open(data_dir / "0.png"))[:40, :56]
    rec = decode_image(encode_image(img, None, quality=5, model=codec), model=codec)
    assert rec.shape == img.shape and rec.dtype == np.uint8


def test_bf16_autocast_path_runs_and_keeps_float32_weights(tmp_path, data_dir):
    """--bf16 (the GPU default) on the CPU: every stage's autocast path runs; checkpoints stay float32."""
    run = tmp_path / "bf16"
    for stage in ("0", "1", "2", "4"):
        ck = _stage(run, data_dir, stage, 2, "--bf16", "--device", "cpu")
        assert ck["step"] == 2
        assert all(t.dtype == torch.float32 for sd in ck["modules"].values() for t in sd.values()
                   if t.is_floating_point())
    losses = [json.loads(line) for line in (run / "stage2.jsonl").read_text().splitlines()]
    assert np.isfinite(losses[-1]["bpp"])


def test_stage0_msssim_loss_is_the_evaluated_metric(tmp_path, data_dir):
    """--msssim-weight (stages 0 and 4) trains on the MS-SSIM the evaluation reports (same value within 1e-4), logs
    it, and refuses crops too small for five scales."""
    from rac_video.eval.metrics import ms_ssim

    rng = np.random.default_rng(3)
    ref = rng.integers(0, 256, (2, 176, 168, 3), dtype=np.uint8)
    rec = np.clip(ref.astype(int) + rng.integers(-40, 41, ref.shape), 0, 255).astype(np.uint8)
    to_t = lambda a: torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255   # noqa: E731
    got = train.ms_ssim_loss_term(to_t(rec), to_t(ref)).item()
    want = ms_ssim(ref, rec).mean()
    assert 0.2 < want < 0.99 and abs(got - want) < 1e-4

    run = tmp_path / "ms"
    ck = _stage(run, data_dir, "0", 2, "--crop", "168", "--msssim-weight", "0.2")
    assert ck["step"] == 2
    _stage(run, data_dir, "1", 1)
    assert _stage(run, data_dir, "4", 2, "--crop", "168", "--msssim-weight", "0.2")["step"] == 2
    for stage in ("0", "4"):
        logged = [json.loads(line) for line in (run / f"stage{stage}.jsonl").read_text().splitlines()]
        assert 0 < logged[-1]["ms_ssim"] <= 1 and np.isfinite(logged[-1]["mse"])
    for stage in ("0", "4"):
        with pytest.raises(SystemExit, match="--crop > 160"):
            _stage(tmp_path / "small", data_dir, stage, 2, "--msssim-weight", "0.2")


def test_stage2_context_joins_a_run_exports_and_codes(tmp_path, data_dir, monkeypatch):
    """--context adds the checkerboard context to a stage-2 run that lacks it (fresh, the hyperprior kept),
    trains both with the log-rate loss, exports it, and the codec then writes two-stream payloads."""
    run = tmp_path / "ctx"
    _stage(run, data_dir, "0", 2)
    _stage(run, data_dir, "1", 2)
    hp = _stage(run, data_dir, "2", 2)["modules"]["hyperprior"]
    ck = _stage(run, data_dir, "2", 4, "--context", "--rate-loss", "log")
    assert ck["step"] == 4 and set(ck["modules"]) == {"hyperprior", "context"}
    assert any(not torch.equal(hp[k], ck["modules"]["hyperprior"][k]) for k in hp)    # resumed, then trained
    logged = json.loads((run / "stage2.jsonl").read_text().splitlines()[-1])
    assert np.isfinite(logged["log2_bits"]) and np.isfinite(logged["bpp"])
    out = tmp_path / "weights"
    assert train.main(["--run", str(run), "--export", str(out), "--name", "tiny-ctx",
                       "--posterior-fusion", "0.004", "--rdoq", "3", "--ddim-steps", "1"]) == 0
    assert "context" in torch.load(out / "tiny-ctx.pt", weights_only=True)
    rec = json.loads((out / "tiny-ctx.json").read_text())
    assert rec["posterior_fusion"] == 0.004 and rec["rdoq"] == 3.0 and rec["steps"] == 1
    assert rec["commands"][-1].endswith("--name tiny-ctx --posterior-fusion 0.004 --rdoq 3 --ddim-steps 1")
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(out))
    from rac_video.codec import decode_image, encode_image
    from rac_video.codec.image import parse_header
    from rac_video.codec.model import Codec

    codec = Codec("tiny-ctx")
    assert (codec.fusion, codec.rdoq, codec.steps) == (0.004, 3.0, 1)    # the record's decoder / encoder defaults
    img = np.asarray(Image.open(data_dir / "1.png"))[:48, :40]
    data = encode_image(img, None, quality=9, model=codec)
    payload = parse_header(data)["payload"]
    assert codec.context is not None and (payload[0] & 0x3F, payload[1]) == (3, 1)    # version (flags aside), K
    assert decode_image(data, model=codec).shape == img.shape
    with pytest.raises(SystemExit, match="stage-2 option"):
        train.main(["--stage", "1", "--run", str(run), "--context"])
    with pytest.raises(ValueError, match="fusion"):
        train.main(["--run", str(run), "--export", str(out), "--name", "bad", "--posterior-fusion", "-1"])


def test_snr_weight_is_clipped_x0_weighting(tmp_path, data_dir):
    """--snr-clip k: the weighted ε-MSE equals min(SNR, k)·(x₀ error)² elementwise; k = 0 is plain ε-MSE."""
    gamma = torch.linspace(-8, 12, 41).view(1, 1, 1, -1)
    w = train.snr_weight(gamma, 5.0)
    a, s = train.schedule.alpha_sigma(gamma)
    eps_err = torch.full_like(gamma, 0.3)
    x0_err = s / a * eps_err                                  # x̂₀ = (z − σ·ε̂)/α
    snr = (a / s) ** 2
    torch.testing.assert_close(w * eps_err ** 2, torch.minimum(snr, torch.tensor(5.0)) * x0_err ** 2,
                               rtol=1e-4, atol=1e-7)
    assert torch.equal(train.snr_weight(gamma, 0), torch.ones_like(gamma))
    assert w[..., 0] == 1 and w[..., -1] < 1e-4
    ck = _stage(tmp_path / "snr", data_dir, "0", 1) and _stage(tmp_path / "snr", data_dir, "1", 2, "--snr-clip", "5")
    logged = json.loads((tmp_path / "snr" / "stage1.jsonl").read_text().splitlines()[-1])
    assert ck["step"] == 2 and logged["loss"] < logged["eps_mse"]


def test_seeding_from_shipped_weights(tmp_path):
    if weights.DEFAULT_MODEL not in weights.available():
        pytest.skip("shipped weights not installed")
    run = tmp_path / "seeded"
    assert train.main(["--run", str(run), "--init-from", weights.DEFAULT_MODEL]) == 0
    state, record = weights.load_state(weights.DEFAULT_MODEL)
    ck = torch.load(run / "stage1.pt", map_location="cpu", weights_only=False)
    assert ck["opt"] is None and ck["step"] == weights.training_stages(weights.DEFAULT_MODEL)["stage1"]["steps"]
    assert all(torch.equal(ck["modules"]["denoiser"][k], v) for k, v in state["denoiser"].items())
    assert train.main(["--run", str(run), "--init-from", weights.DEFAULT_MODEL]) == 0   # idempotent
    fresh = tmp_path / "fresh"
    assert train.main(["--run", str(fresh), "--init-from", weights.DEFAULT_MODEL, "--init-restart"]) == 0
    ck = torch.load(fresh / "stage2.pt", map_location="cpu", weights_only=False)
    assert ck["step"] == 0 and ck["extra"]["seconds"] == 0 and ck["extra"]["seeded_from"] == weights.DEFAULT_MODEL
    assert ("context" in ck["modules"]) == ("context" in state)       # a context model seeds its context too


def test_bad_stage_arguments(tmp_path):
    with pytest.raises(SystemExit):
        train.main(["--run", str(tmp_path / "r")])                   # nothing to do
    with pytest.raises(SystemExit):
        train.main(["--stage", "9", "--run", str(tmp_path / "r")])
