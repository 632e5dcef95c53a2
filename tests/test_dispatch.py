"""Backend selection, forcing and the reasons reported when a backend is skipped."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from rac_video import ops
from rac_video import _native

OP = ops.hashed_dither


def test_auto_prefers_cpu_backend_for_cpu_tensors():
    OP((2, 3, 4), 1)
    expected = "cpu" if not OP.reasons("cpu")["cpu"] else "torch"
    assert OP.last_backend == expected


def test_force_by_argument_context_and_env(monkeypatch):
    OP((2, 3, 4), 1, backend="torch")
    assert OP.last_backend == "torch"
    with ops.use_backend("torch"):
        OP((2, 3, 4), 1)
        assert OP.last_backend == "torch"
        with ops.use_backend(hashed_dither="cpu"):  # per-op beats the global context
            OP((2, 3, 4), 1)
            assert OP.last_backend == "cpu"
    monkeypatch.setenv("RAC_VIDEO_BACKEND", "torch")
    OP((2, 3, 4), 1)
    assert OP.last_backend == "torch"
    monkeypatch.setenv("RAC_VIDEO_BACKEND_HASHED_DITHER", "cpu")
    OP((2, 3, 4), 1)
    assert OP.last_backend == "cpu"
    OP((2, 3, 4), 1, backend="torch")  # the argument beats the environment
    assert OP.last_backend == "torch"


def test_forcing_unavailable_backend_lists_every_reason():
    with pytest.raises(ops.BackendUnavailable) as e:
        OP((2, 3, 4), 1, backend="cuda", device="cpu")
    msg = str(e.value)
    for b in ops.BACKENDS:
        assert f"{b}:" in msg
    assert "not cuda" in msg


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError):
        OP((2, 3, 4), 1, backend="metal")
    with pytest.raises(ValueError):
        with ops.use_backend("metal"):
            pass


def test_triton_on_cpu_needs_the_interpreter(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert "TRITON_INTERPRET" in ops.backend_reason("triton", "cpu")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert ops.backend_reason("triton", "cpu") == ""


def test_fallback_is_logged(caplog, monkeypatch):
    op = ops.Op("test_only_fallback", lambda x: x + 1)
    op.register("cuda")(lambda x: x)
    caplog.set_level("INFO", logger="rac_video.ops")
    op(torch.zeros(3), backend=None)
    assert op.last_backend == "torch"  # no cpu impl, cuda needs cuda tensors
    assert any("test_only_fallback" in r.getMessage() and "cpu" in r.getMessage() for r in caplog.records)
    ops._dispatch._OPS.pop("test_only_fallback")


class _OnCuda0(torch.Tensor):
    """A CPU tensor that reports ``cuda:0`` as its device: what an ``out`` tensor on the first GPU looks like
    to the argument checks, on machines without one."""

    @property
    def device(self):
        return torch.device("cuda", 0)


def test_device_checks_accept_cuda_without_index(monkeypatch):
    """``cuda``, ``cuda:0`` and a tensor's own ``cuda:0`` name one device while device 0 is current (the check
    compared ``torch.device('cuda')`` with ``cuda:0`` and rejected every correct ``out`` on a GPU)."""
    from rac_video.ops import _checks

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    out = torch.empty(2, 3, 4).as_subclass(_OnCuda0)
    for device in ("cuda", "cuda:0", torch.device("cuda"), torch.device("cuda", 0), out.device):
        assert _checks.output(out, (2, 3, 4), torch.float32, device) is out
        assert _checks.tensor(out, "x", torch.float32, device) is out
        assert _checks.same_device(device, out.device) and _checks.same_device(out.device, device)
    assert _checks.canonical_device("cuda") == torch.device("cuda", 0) == out.device
    with pytest.raises(ValueError, match=r"out must be .* on cuda:1, got torch.float32 \(2, 3, 4\) on cuda:0"):
        _checks.output(out, (2, 3, 4), torch.float32, "cuda:1")
    with pytest.raises(ValueError, match="x is on cuda:0 but the other inputs are on cpu"):
        _checks.tensor(out, "x", torch.float32, "cpu")
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)   # another GPU current: 'cuda' is cuda:1
    assert _checks.canonical_device("cuda") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="out must be"):
        _checks.output(out, (2, 3, 4), torch.float32, "cuda")
    assert not _checks.same_device("cuda", out.device) and _checks.same_device("cuda:1", "cuda")


def test_cpu_device_spellings_are_one_device():
    out = torch.empty(2, 3, 4)
    for device in ("cpu", "cpu:0", torch.device("cpu", 0)):
        assert OP((2, 3, 4), 7, device=device, out=out, backend="torch") is out
        assert OP((2, 3, 4), 7, device=device, out=out) is out
    assert torch.equal(out, OP((2, 3, 4), 7))
    assert not ops._checks.same_device("cpu", "meta")


def test_native_cpu_module_loaded():
    mod, why = _native.cpu_module()
    assert mod is not None, why
    assert "dither" in mod.families and mod.num_threads() >= 1


@pytest.mark.skipif(shutil.which("nvcc") is None or os.environ.get("RAC_VIDEO_CUDA") == "0",
                    reason="no nvcc on this machine (CUDA backend not expected)")
def test_cuda_module_compiled_with_nvcc():
    """Where nvcc exists the install must have compiled the CUDA kernels (they run only with a GPU)."""
    mod, why = _native.load("_C_cuda")
    assert mod is not None, why
    assert "dither" in mod.families
    count, msg = mod.device_count()
    if count <= 0:
        assert msg  # a reason, never a crash
        assert "sees no GPU" in OP.reasons("cuda")["cuda"]


def test_info_command_reports_backends():
    env = dict(os.environ, TRITON_INTERPRET="1")
    out = subprocess.run([sys.executable, "-m", "rac_video.info", "--json"], capture_output=True, text=True,
                         env=env, check=True).stdout
    info = json.loads(out)
    cpu = info["ops"]["hashed_dither"]["cpu"]["backends"]
    assert cpu["torch"] == "available" and cpu["cpu"] == "available" and cpu["triton"] == "available"
    assert info["ops"]["hashed_dither"]["cpu"]["chosen"] == "cpu"
    assert info["ops"]["hashed_dither"]["cuda"]["backends"]["cuda"] != "available" or torch.cuda.is_available()
    text = subprocess.run([sys.executable, "-m", "rac_video.cli", "info"], capture_output=True, text=True,
                          check=True).stdout
    assert "hashed_dither" in text and "rac_video._C" in text
    from rac_video.codec.weights import DEFAULT_MODEL, available

    if DEFAULT_MODEL in available():                           # the records' defaults, the default marked
        assert info["models"][DEFAULT_MODEL]["default"] and f"* {DEFAULT_MODEL}: sha256" in text
        assert info["models"]["rac-tiny-v5"]["posterior_fusion"] == 0.003 and info["models"]["rac-tiny-v5"]["steps"] == 1
        if "rac-tiny-v1" in available():                       # (copies made for a GPU run may leave it out)
            assert info["models"]["rac-tiny-v1"]["posterior_fusion"] == 0.0 and info["models"]["rac-tiny-v1"]["steps"] == 2
