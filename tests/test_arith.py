"""Arithmetic classes: recorded by the encoder, compared by the decoder, TF32 off for the codec on CUDA."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from rac_video import arith, pipeline
from rac_video.container import Reader, Writer


@pytest.fixture
def tf32_flags():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def test_cpu_class_names_library_and_isa(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    own = arith.arith_class("cpu")
    assert own.startswith("cpu-onednn-" if torch.backends.mkldnn.is_available() else "cpu-native-")
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    assert arith.arith_class("cpu") == "cpu-native-" + own.split("-", 2)[2]
    monkeypatch.undo()
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    isa = own.split("-", 2)[2]
    if isa in ("avx", "avx2", "avx512"):                   # oneDNN capped below the machine: another class
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")
        assert arith.arith_class("cpu").endswith("-sse41")
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "ALL")
        assert arith.arith_class("cpu") == own


def test_cuda_class_names_arch_and_tf32(monkeypatch, tf32_flags):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (9, 0))
    torch.backends.cudnn.allow_tf32 = True                 # torch's default for convolutions
    assert arith.arith_class("cuda") == arith.arith_class("cuda:0") == "cuda-sm90-tf32"
    arith.exact_float32("cuda")
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert arith.arith_class("cuda") == "cuda-sm90-fp32"


def test_exact_float32_leaves_cpu_settings_alone(tf32_flags):
    torch.backends.cudnn.allow_tf32 = True
    arith.exact_float32("cpu")
    assert torch.backends.cudnn.allow_tf32


def test_codec_switches_tf32_off_for_its_device(random_codec, monkeypatch):
    from rac_video.codec.model import Codec

    seen = []
    monkeypatch.setattr(arith, "exact_float32", lambda device: seen.append(torch.device(device)))
    Codec("rand-a", steps=1, device="cpu")
    assert seen == [torch.device("cpu")]


def _stream(tmp_path, codec, arith_class=None):
    """A 1-frame .racv from ``codec``; its header's arithmetic class replaced by ``arith_class`` if given."""
    from PIL import Image

    d = tmp_path / "clip"
    d.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(d / "f0.png")
    out = tmp_path / "a.racv"
    pipeline.encode_video(str(d), out, pipeline.EncodeOptions(quality=6, model="rand-a", steps=1, fps=10),
                          codec=codec, progress=False)
    if arith_class is None:
        return out
    with Reader(out) as r:
        hdr, pkts = r.header, list(r)
    hdr.settings["arith"] = arith_class
    other = tmp_path / "b.racv"
    with Writer(other, hdr) as w:
        for p in pkts:
            w.write(p)
    return other


def test_header_records_the_class_and_decoder_warns_on_another(tmp_path, random_codec):
    path = _stream(tmp_path, random_codec)
    with Reader(path) as r:
        hdr = r.header
    assert hdr.settings["arith"] == arith.arith_class("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # same class: silent
        dec = pipeline.FrameDecoder(random_codec, hdr)
    assert dec.arith_mismatch is None
    other = _stream(tmp_path, random_codec, "cuda-sm90-tf32")
    with Reader(other) as r:
        hdr2, pkt = r.header, next(iter(r))
    with pytest.warns(arith.ArithmeticMismatchWarning, match=r"encoded with 'cuda-sm90-tf32' arithmetic and is "
                                                             r"decoded with 'cpu-"):
        dec = pipeline.FrameDecoder(random_codec, hdr2)
    assert "cuda-sm90-tf32" in dec.arith_mismatch
    assert np.array_equal(dec.decode(pkt), pipeline.FrameDecoder(random_codec, hdr).decode(pkt))  # a warning only
    hdr2.settings.pop("arith")                             # streams written before the class was recorded
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipeline.FrameDecoder(random_codec, hdr2)


@pytest.mark.skipif(arith.arith_class("cpu").split("-")[-1] not in ("avx", "avx2", "avx512"),
                    reason="needs an x86 CPU with AVX to cap oneDNN below it")
def test_cli_decode_on_other_arithmetic_warns_on_stderr(tmp_path, random_weights_dir):
    """A decoder process whose oneDNN is capped to SSE4.1 (another CPU, as far as convolutions go)."""
    pytest.importorskip("av", reason="the decode command writes its video through PyAV")
    from PIL import Image

    d = tmp_path / "clip"
    d.mkdir()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(d / "f0.png")
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    env["RAC_VIDEO_WEIGHTS"] = str(random_weights_dir)
    run = lambda *a, **kw: subprocess.run([sys.executable, "-m", "rac_video.cli", *a],  # noqa: E731
                                          capture_output=True, text=True, timeout=300, **kw)
    r = run("encode", str(d), "--fps", "10", "-o", str(tmp_path / "a.racv"), "--model", "rand-a", "-q", "4",
            "--no-progress", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    r = run("decode", str(tmp_path / "a.racv"), "-o", str(tmp_path / "a.mkv"), "--lossless", "--no-progress",
            env={**env, "ONEDNN_MAX_CPU_ISA": "SSE41"})
    assert "ArithmeticMismatchWarning" in r.stderr and "decoded with 'cpu-" in r.stderr and "-sse41'" in r.stderr
    assert r.returncode in (0, 1, 3), r.stderr[-2000:]     # a warning, not a refusal (the bytes may still decode)
