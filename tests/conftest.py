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


def devices():
    return ["cpu"] + (["cuda"] if _has_gpu else [])
