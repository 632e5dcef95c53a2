"""Posterior fusion (rac_video.codec.posterior): the truncated-normal mean and the decoder's fused estimate."""
import json
import shutil

import numpy as np
import pytest
import torch

from rac_video import ops
from rac_video.codec import weights
from rac_video.codec.model import Codec
from rac_video.codec.posterior import check_fusion, fuse_posterior, truncated_normal_mean


def _numeric_mean(m, sd, lo, hi, n=200001):
    """E[Y | lo ≤ Y ≤ hi] by quadrature on a fine grid of the interval (float64)."""
    out = []
    for mi, si, a, b in zip(m.tolist(), sd.tolist(), lo.tolist(), hi.tolist()):
        y = np.linspace(a, b, n)
        logw = -0.5 * ((y - mi) / si) ** 2
        w = np.exp(logw - logw.max())
        out.append(float(np.sum(w * y) / np.sum(w)))
    return torch.tensor(out, dtype=torch.float64)


def test_truncated_normal_mean_matches_quadrature_including_far_tails():
    g = torch.Generator().manual_seed(0)
    n = 300
    m = torch.randn(n, generator=g, dtype=torch.float64) * 3
    sd = torch.exp(torch.randn(n, generator=g, dtype=torch.float64))
    lo = torch.randn(n, generator=g, dtype=torch.float64) * 6
    hi = lo + torch.rand(n, generator=g, dtype=torch.float64) * 4 + 1e-3
    # a few intervals 10–40 standard deviations away, on both sides
    lo[:10], hi[:10] = m[:10] + 10 * sd[:10] * torch.arange(1, 11), m[:10] + 10 * sd[:10] * torch.arange(1, 11) + 1
    lo[10:20], hi[10:20] = m[10:20] - 40 * sd[10:20] - 2, m[10:20] - 40 * sd[10:20]
    got = truncated_normal_mean(m, sd, lo, hi)
    assert got.dtype == torch.float64 and torch.all((got >= lo) & (got <= hi))
    want = _numeric_mean(m, sd, lo, hi, n=200001)
    # the quadrature's own error is about one grid step; far-tail means sit within a step of a bound
    tol = 2 * (hi - lo) / 200000
    assert torch.all((got - want).abs() <= tol), float(((got - want).abs() / tol).max())


def test_fusion_limits_and_errors():
    g = torch.Generator().manual_seed(1)
    shape = (1, 3, 8, 8)
    y_hat, y_den, mu = (torch.randn(shape, generator=g) for _ in range(3))
    s = torch.rand(shape, generator=g) + 0.1
    delta = torch.full((1, 1, 8, 8), 0.8)
    assert fuse_posterior(y_den, y_hat, mu, s, delta, 0.0) is y_den
    # the denoiser trusted completely: its estimate, clamped into the bin
    tiny = fuse_posterior(y_den, y_hat, mu, s, delta, 1e-12)
    assert torch.allclose(tiny, y_den.clamp(y_hat - 0.4, y_hat + 0.4), atol=1e-5)
    # the denoiser ignored: the entropy model's Gaussian restricted to the bin
    huge = fuse_posterior(y_den, y_hat, mu, s, delta, 1e12)
    want = truncated_normal_mean(mu, s, y_hat - 0.4, y_hat + 0.4).float()
    assert torch.allclose(huge, want, atol=1e-5)
    assert tiny.dtype == torch.float32 and tiny.shape == shape
    for bad in (-0.1, float("nan"), float("inf"), "c"):
        with pytest.raises(ValueError, match="fusion"):
            check_fusion(bad)


def test_fusion_beats_either_estimate_when_its_model_holds():
    """y ~ N(μ, s²), ŷ its universal quantization, ỹ = y + N(0, cΔ²): the fused estimate has a lower
    error than ŷ, than ỹ and than the bin-clamped ỹ (it is the exact posterior mean here)."""
    g = torch.Generator().manual_seed(2)
    shape = (1, 8, 64, 64)
    mu = torch.randn(shape, generator=g)
    s = torch.rand(shape, generator=g) * 1.5 + 0.2
    y = mu + s * torch.randn(shape, generator=g)
    level = torch.randint(0, 16, (1, 1, 64, 64), generator=g, dtype=torch.int32)
    table = torch.linspace(3.0, 0.2, 16)
    delta = table[level.long()]
    y_hat = ops.dequantize(ops.quantize(y, level, table, 7, 0), level, table, 7, 0)
    c = 0.05
    y_den = y + (c ** 0.5) * delta * torch.randn(shape, generator=g)
    fused = fuse_posterior(y_den, y_hat, mu, s, delta, c)
    err = {name: float(((v - y) ** 2).mean()) for name, v in
           {"fused": fused, "y_hat": y_hat, "y_den": y_den,
            "clamped": torch.max(torch.min(y_den, y_hat + delta / 2), y_hat - delta / 2)}.items()}
    assert err["fused"] < 0.9 * min(err["y_hat"], err["y_den"], err["clamped"]), err


@pytest.fixture
def fused_dir(random_weights_dir, tmp_path):
    """rand-ctx's weights under the name rand-ctx with ``posterior_fusion`` in its record."""
    for name in ("rand-ctx.pt", "rand-ctx.json"):
        shutil.copy(random_weights_dir / name, tmp_path / name)
    rec = json.loads((tmp_path / "rand-ctx.json").read_text())
    (tmp_path / "rand-ctx.json").write_text(json.dumps({**rec, "posterior_fusion": 0.01}))
    return tmp_path


def test_decoder_fuses_with_the_models_constant(fused_dir, random_weights_dir, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", fused_dir)
    fused = Codec("rand-ctx", steps=1)
    plain = Codec("rand-ctx", steps=1, fusion=0)
    assert fused.fusion == 0.01 and plain.fusion == 0.0
    h, w, q = 40, 56, 3
    rng = np.random.default_rng(3)
    f = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    lv = rng.integers(0, fused.levels, fused.latent_hw(h, w)).astype(np.uint8)
    payload = fused.encode_frame(f, lv, q)
    assert payload == plain.encode_frame(f, lv, q)            # the encoder does not change
    a = fused.decode_frame(payload, lv, q, height=h, width=w)
    assert np.array_equal(a, fused.decode_frame(payload, lv, q, height=h, width=w))
    assert not np.array_equal(a, plain.decode_frame(payload, lv, q, height=h, width=w))
    monkeypatch.setattr(weights, "WEIGHTS_DIR", random_weights_dir)
    assert Codec("rand-ctx").fusion == 0.0                   # a record without it: no fusion
    with pytest.raises(ValueError, match="fusion"):
        Codec("rand-ctx", fusion=-1)
