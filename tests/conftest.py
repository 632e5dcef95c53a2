import os

# Triton has no CPU driver: run its kernels through the interpreter unless a GPU is present.
# This must happen before anything imports triton.
try:
    import torch

    _has_gpu = torch.cuda.is_available()
except ImportError:  # pragma: no cover
    _has_gpu = False
if not _has_gpu:
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data")
DATA = os.path.normpath(os.environ.get("RAC_VIDEO_DATA", DATA))


@pytest.fixture
def shared_data():
    """Path of ../shared/data; tests using it skip cleanly when it is absent."""
    if not os.path.isdir(DATA):
        pytest.skip(f"shared data not found at {DATA}")
    return DATA


@pytest.fixture
def image_folder(tmp_path):
    """``make(height, width)`` -> a folder holding one synthetic RGB PNG (a.png), for the tools that
    read Kodak-style folders with the shipped model; skips when the shipped weights are absent."""
    import numpy as np
    from PIL import Image

    from rac_video.codec import weights

    if weights.DEFAULT_MODEL not in weights.available():
        pytest.skip("shipped weights not installed")

    def make(height, width):
        folder = tmp_path / "imgs"
        folder.mkdir(exist_ok=True)
        yy, xx = np.mgrid[0:height, 0:width]
        img = np.stack([(xx * 3) % 256, (yy * 2) % 256, ((xx + yy) * 2) % 256], -1).astype(np.uint8)
        Image.fromarray(img).save(folder / "a.png")
        return folder

    return make


@pytest.fixture
def weights_env(random_weights_dir, monkeypatch):
    """The randomly initialised test models (``random_weights_dir``) installed through RAC_VIDEO_WEIGHTS."""
    monkeypatch.setenv("RAC_VIDEO_WEIGHTS", str(random_weights_dir))


def devices():
    return ["cpu"] + (["cuda"] if _has_gpu else [])


def export_random_model(folder, name, seed, context=False, realism=False):
    """Write a randomly initialised model exactly like shipped weights (state dicts + sha256 record);
    ``context``: with a checkerboard context whose output layer is random too (not the identity)."""
    import json

    from rac_video.codec import weights
    from rac_video.codec.autoencoder import Analysis, Synthesis
    from rac_video.codec.denoiser import Denoiser
    from rac_video.codec.hyperprior import HyperPrior

    torch.manual_seed(seed)
    state = {"g_a": Analysis().state_dict(), "g_s": Synthesis().state_dict(), "denoiser": Denoiser().state_dict(),
             "hyperprior": HyperPrior().state_dict()}
    if context:
        from rac_video.codec.context import CheckerboardContext

        ctx = CheckerboardContext()
        torch.nn.init.normal_(ctx.net[-1].weight, std=0.05)
        state["context"] = ctx.state_dict()
    if realism:                     # a realism synthesis transform (rac_video.codec.realism), random too
        state["g_s_real"] = Synthesis().state_dict()
    path = folder / f"{name}.pt"
    torch.save(state, path)
    (folder / f"{name}.json").write_text(json.dumps({"name": name, "sha256": weights.sha256(path)}))


@pytest.fixture(scope="session")
def random_weights_dir(tmp_path_factory):
    """A weights folder with random models, ``rand-a`` and ``rand-b``, ``rand-ctx`` with a
    checkerboard context and ``rand-real`` with a realism synthesis transform (tests of the bitstream path that must not depend on the shipped weights)."""
    d = tmp_path_factory.mktemp("weights")
    export_random_model(d, "rand-a", 0)
    export_random_model(d, "rand-b", 1)
    export_random_model(d, "rand-ctx", 2, context=True)
    export_random_model(d, "rand-real", 3, realism=True)
    return d


@pytest.fixture
def random_codec(random_weights_dir, monkeypatch):
    from rac_video.codec import weights
    from rac_video.codec.model import Codec

    monkeypatch.setattr(weights, "WEIGHTS_DIR", random_weights_dir)
    return Codec("rand-a", steps=1)
