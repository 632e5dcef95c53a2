"""One model loader for every size (rac_video.codec.weights): architectures from the record, the shipped
models built exactly as before, a larger architecture trained, exported, loaded and coded with, and
the half-precision storage format."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

from rac_video.codec import train, weights
from rac_video.codec.weights import ARCHITECTURES, Architecture, ModelMismatchError, build_module


def _frame(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([(xx * 3) % 256, (yy * 5) % 256, (xx + yy) % 256], -1)
    return np.clip(base + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def _legacy_modules(state):
    """The modules as Codec built them before architectures: rac-tiny's classes at their defaults."""
    from rac_video.codec.autoencoder import Analysis, Synthesis
    from rac_video.codec.context import CheckerboardContext
    from rac_video.codec.denoiser import Denoiser
    from rac_video.codec.hyperprior import HyperPrior

    C = state["g_a"]["scale"].shape[1]
    mods = {"g_a": Analysis(C), "g_s": Synthesis(C), "denoiser": Denoiser(C), "hyperprior": HyperPrior(C)}
    if "context" in state:
        mods["context"] = CheckerboardContext(C)
    for k, m in mods.items():
        m.load_state_dict(state[k])
        m.eval()
    return mods


@pytest.mark.parametrize("name", ["rac-tiny-v1", "rac-tiny-v5", "rac-tiny-v6"])
def test_shipped_models_build_as_before(name):
    if name not in weights.available():
        pytest.skip("shipped weights not installed")
    modules, arch, state, record = weights.load_modules(name)
    assert arch == ARCHITECTURES["rac-tiny"] and arch.factor == 8 and "architecture" not in record
    legacy = _legacy_modules(state)
    assert set(modules) == set(legacy)
    torch.manual_seed(0)
    x, y = torch.rand(1, 3, 64, 96), torch.randn(1, 16, 8, 12)
    gamma = torch.full((1, 1, 8, 12), 2.0)
    cond = torch.rand(1, 2, 8, 12)
    with torch.no_grad():
        for k, m in modules.items():
            assert m.state_dict().keys() == legacy[k].state_dict().keys()
            assert all(torch.equal(a, b) for a, b in zip(m.state_dict().values(), legacy[k].state_dict().values()))
        assert torch.equal(modules["g_a"](x), legacy["g_a"](x))
        assert torch.equal(modules["g_s"](y), legacy["g_s"](y))
        assert torch.equal(modules["denoiser"](y, gamma), legacy["denoiser"](y, gamma))
        z = modules["hyperprior"].analysis(y, cond)
        assert torch.equal(z, legacy["hyperprior"].analysis(y, cond))
        for a, b in zip(modules["hyperprior"].synthesis(z.round(), cond), legacy["hyperprior"].synthesis(z.round(), cond)):
            assert torch.equal(a, b)


def test_architecture_record_round_trip_and_errors(tmp_path):
    for arch in ARCHITECTURES.values():
        assert Architecture.from_record(json.loads(json.dumps(arch.to_record()))) == arch
    ARCHITECTURES["rac-small"].save(tmp_path / "small.json")
    assert Architecture.load(tmp_path / "small.json") == ARCHITECTURES["rac-small"]
    assert ARCHITECTURES["rac-small"].factor == 16
    keys = ("g_a", "g_s", "denoiser", "hyperprior", "context")
    n = sum(p.numel() for k in keys for p in build_module(k, ARCHITECTURES["rac-small"]).parameters())
    assert 5e6 <= n <= 15e6, n
    with pytest.raises(ModelMismatchError, match="upgrade"):
        Architecture.from_record({"latent_channels": 8, "attention": True})
    for bad in ({"latent_channels": "x"}, {"analysis": [[16]]}, {"denoiser_width": 0}):
        with pytest.raises(ModelMismatchError, match="positive integers"):
            Architecture.from_record(bad)
    with pytest.raises(ModelMismatchError, match="f = 8 or 16"):
        Architecture(analysis=((8, 0), (8, 0)), synthesis=((8, 0), (8, 0), (8, 0)))
    with pytest.raises(ModelMismatchError, match="do not fit"):
        build_module("g_a", Architecture(latent_channels=8), build_module("g_a", Architecture()).state_dict())


def test_importance_conditioned_analysis_starts_as_the_plain_one():
    arch = dataclasses.replace(ARCHITECTURES["rac-tiny"], importance_analysis=True)
    torch.manual_seed(1)
    g = build_module("g_a", arch)
    plain = build_module("g_a", ARCHITECTURES["rac-tiny"])
    plain.load_state_dict({k: v for k, v in g.state_dict().items() if not k.startswith("modulation")})
    x = torch.rand(1, 3, 32, 32)
    m = torch.rand(1, 1, 4, 4)
    assert torch.equal(g(x, m), plain(x))                 # zero-initialised modulation: the identity
    with torch.no_grad():
        g.modulation[1].net[-1].weight.normal_(std=0.1)
    assert not torch.allclose(g(x, m), plain(x)) and not torch.allclose(g(x, m), g(x, 1 - m))
    with pytest.raises(ValueError, match="level map"):
        g(x)


SMALL = Architecture(latent_channels=8, analysis=((8, 0), (16, 1), (16, 0), (24, 1)),
                     synthesis=((24, 1), (16, 0), (16, 1), (8, 0), (8, 0)), denoiser_width=16, hyper_channels=4,
                     hyper_width=16, context_width=16, importance_analysis=True)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("train-data")
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (160, 176, 3)).astype(np.uint8)).save(d / f"{i}.png")
    return d


def test_an_f16_importance_conditioned_model_trains_exports_and_codes(tmp_path, data_dir, monkeypatch):
    """The whole path for a non-tiny architecture (a scaled-down rac-small: f = 16, SFT analysis):
    stages 0-2 build it from ``--arch``, the record carries it, Codec codes with it (masked too), and
    the half-precision export decodes within rounding of the float32 one."""
    monkeypatch.setitem(ARCHITECTURES, "test-small", SMALL)
    run = tmp_path / "run"
    common = ["--run", str(run), "--data", str(data_dir), "--steps", "2", "--minutes", "5", "--batch", "2",
              "--crop", "64", "--cache-crops", "50", "--threads", "1"]
    assert train.main(["--stage", "0", "--arch", "test-small", *common]) == 0
    for stage in ("1", "2"):
        assert train.main(["--stage", stage, *common, "--context"] if stage == "2" else ["--stage", stage, *common]) == 0
    with pytest.raises(SystemExit, match="not --arch"):
        train.main(["--stage", "0", "--arch", "rac-tiny", *common])
    out = tmp_path / "w"
    assert train.main(["--run", str(run), "--export", str(out), "--name", "small-f32"]) == 0
    assert train.main(["--run", str(run), "--export", str(out), "--name", "small-f16", "--half"]) == 0
    rec32, rec16 = (json.loads((out / f"small-{n}.json").read_text()) for n in ("f32", "f16"))
    assert Architecture.from_record(rec32["architecture"]) == SMALL and rec16["weights_format"] == 2
    assert "weights_format" not in rec32 and rec16["bytes"] < 0.6 * rec32["bytes"]
    assert rec16["sha256"] != rec32["sha256"]
    st16 = torch.load(out / "small-f16.pt", weights_only=True)
    assert st16["g_a"]["net.0.weight"].dtype == torch.float16

    monkeypatch.setenv(weights.WEIGHTS_ENV, str(out))
    from rac_video.codec.model import Codec

    h, w = 72, 100
    f = _frame(h, w)
    recs = []
    for name in ("small-f32", "small-f16"):
        c = Codec(name, steps=1)
        assert c.factor == 16 and c.latent_hw(h, w) == (5, 7) and c.pad == 64
        assert all(p.dtype == torch.float32 for p in c.g_s.parameters())
        lv = np.random.default_rng(2).integers(0, c.levels, c.latent_hw(h, w)).astype(np.uint8)
        for masked in (False, True):
            p = c.encode_frame(f, lv, 8, masked=masked)
            assert abs(8 * len(p) - c.estimate_bits(f, lv, 8, masked=masked)) < 64
            rec = c.decode_frame(p, lv, 8, height=h, width=w)
            assert rec.shape == (h, w, 3)
        recs.append(rec)
    assert np.abs(recs[0].astype(int) - recs[1]).mean() < 2.0


def test_gdn_matches_its_formula_and_an_architecture_trains_from_a_json_record(tmp_path, data_dir):
    """GDN / inverse GDN against the formula in float64; ``--arch FILE.json`` (an architecture without a
    name, as tools/arch_experiments.py writes) trains stage 0, the checkpoint records it and the
    frozen autoencoder has GDN layers; a bad record is refused with the reason."""
    from rac_video.codec.autoencoder import GDN

    torch.manual_seed(3)
    g, ig = GDN(4), GDN(4, inverse=True)
    with torch.no_grad():
        for m in (g, ig):
            m.beta_sqrt.uniform_(0.5, 1.5)
            m.gamma_sqrt.uniform_(0.0, 0.5)
    x = torch.randn(2, 4, 5, 6)
    beta, gamma = g.beta_sqrt.double() ** 2, g.gamma_sqrt.double() ** 2
    norm = (beta.view(1, 4, 1, 1) + torch.einsum("ij,njhw->nihw", gamma, x.double() ** 2)).sqrt()
    torch.testing.assert_close(g(x).double(), x.double() / norm, rtol=1e-5, atol=1e-6)
    beta, gamma = ig.beta_sqrt.double() ** 2, ig.gamma_sqrt.double() ** 2
    norm = (beta.view(1, 4, 1, 1) + torch.einsum("ij,njhw->nihw", gamma, x.double() ** 2)).sqrt()
    torch.testing.assert_close(ig(x).double(), x.double() * norm, rtol=1e-5, atol=1e-6)

    arch = dataclasses.replace(SMALL, importance_analysis=False, gdn=True)
    spec = tmp_path / "arch.json"
    arch.save(spec)
    run = tmp_path / "run"
    common = ["--run", str(run), "--data", str(data_dir), "--steps", "2", "--minutes", "5", "--batch", "2",
              "--crop", "64", "--threads", "1"]
    assert train.main(["--stage", "0", "--arch", str(spec), *common]) == 0
    assert train.run_architecture(run) == arch
    g_a, g_s = train.frozen_autoencoder(run)
    assert isinstance(g_a.net[1], GDN) and any(isinstance(m, GDN) and m.inverse for m in g_s.modules())
    assert not any(isinstance(m, GDN) for m in build_module("g_s", SMALL).modules())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"latent_channels": 8, "attention": True}))
    with pytest.raises(SystemExit, match="not an architecture record.*upgrade"):
        train.main(["--stage", "0", "--arch", str(bad), "--run", str(tmp_path / "r2"), "--data", str(data_dir)])
    with pytest.raises(SystemExit, match="neither an architecture"):
        train.main(["--stage", "0", "--arch", "rac-huge", "--run", str(tmp_path / "r3"), "--data", str(data_dir)])


def test_unknown_weights_format_is_refused(tmp_path, monkeypatch, random_weights_dir):
    import shutil

    shutil.copy(random_weights_dir / "rand-a.pt", tmp_path / "fmt.pt")
    rec = json.loads((random_weights_dir / "rand-a.json").read_text())
    (tmp_path / "fmt.json").write_text(json.dumps({**rec, "name": "fmt", "weights_format": 9}))
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(tmp_path))
    with pytest.raises(ModelMismatchError, match="weights format 9"):
        weights.load_state("fmt")
