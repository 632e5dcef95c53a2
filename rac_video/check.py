"""Does a file decode the same everywhere? ``rac-video check FILE`` (a .racv video or an image bitstream).

The file is decoded under several arithmetic variants — standing in for another CPU, another torch
build, another thread count or a GPU — and every frame's decoded symbols (the integer levels k) and
pixels are hashed and compared with the plain decode:

    in this process   onednn-off (torch's own convolutions), threads-1, ops-torch / ops-cpu (every
                      op forced onto the torch reference or the C++ backend)
    subprocesses      isa-avx2 / isa-avx (oneDNN limited to that instruction set, ONEDNN_MAX_CPU_ISA),
                      omp-1 (OMP_NUM_THREADS=1), triton (TRITON_INTERPRET=1, every op on Triton;
                      ``--triton``, slow), cuda (the whole decoder on the GPU, where there is one)

Symbols must agree everywhere: they are what the entropy model decided, and a difference is a
file that fails (or silently mis-decodes) on that machine. A model with integer entropy networks
(``rac-video info`` says "device-independent") guarantees it; older models do not. Pixels come from
the float decoder networks (denoiser, g_s) and may differ by rounding; the report counts them.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch

__all__ = ["frame_digests", "check_files", "IN_PROCESS", "SUBPROCESS"]

IN_PROCESS = ("onednn-off", "threads-1", "ops-torch", "ops-cpu")
SUBPROCESS = {"isa-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"}, "isa-avx": {"ONEDNN_MAX_CPU_ISA": "AVX"},
              "omp-1": {"OMP_NUM_THREADS": "1"},
              "triton": {"TRITON_INTERPRET": "1", "RAC_VIDEO_BACKEND": "triton"}}


def _sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def _is_image(path) -> bool:
    from .codec.image import MAGIC

    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _frames(path, device, max_frames):
    """Yield (index, reference index or None, codec, payload, levels, quality, seed, dither frame, height,
    width) of each frame."""
    from .codec import load_model
    from .codec.image import parse_header
    from .importance import sideinfo

    if _is_image(path):
        data = open(path, "rb").read()
        h = parse_header(data)
        codec = load_model(h["model"], device=device)
        levels = sideinfo.from_bytes(h["side_info"]).levels(codec.latent_hw(h["height"], h["width"]))
        yield 0, None, codec, h["payload"], levels, h["quality"], h["seed"], 0, h["height"], h["width"]
        return
    from .container import Reader
    from .pipeline import FrameDecoder

    with Reader(path) as r:
        dec = FrameDecoder(load_model(r.header.model, device=device), r.header)
        for n, pkt in enumerate(r):
            if max_frames is not None and n >= max_frames:
                break
            levels = sideinfo.from_bytes(pkt.side_info).levels(dec.latent_hw)
            yield (pkt.index, pkt.ref, dec.codec, pkt.payload, levels, pkt.quality, dec.seed, dec.dither_frame,
                   r.header.height, r.header.width)


def frame_digests(path, *, device: str = "cpu", max_frames: int | None = None) -> list[dict]:
    """Per frame: {"index", "symbols": hash of k, "pixels": hash of the decoded frame} or {"index", "error"}."""
    from .codec.inter import SequenceDecoder

    out, seq = [], None
    for idx, ref, codec, payload, levels, q, seed, dither_frame, H, W in _frames(path, device, max_frames):
        if seq is None:
            seq = SequenceDecoder(codec, seed=seed, dither_frame=dither_frame, height=H, width=W)
        try:
            d = seq.decode(payload, levels, q, index=idx, ref=ref)
            out.append({"index": idx, "symbols": _sha(d.k.cpu().numpy()), "pixels": _sha(d.frame)})
        except Exception as exc:  # noqa: BLE001 — a failed decode is a finding, reported per frame
            seq.forget()
            out.append({"index": idx, "error": f"{type(exc).__name__}: {exc}"})
    return out


@contextlib.contextmanager
def _variant(name):
    from . import ops

    if name == "onednn-off":
        with torch.backends.mkldnn.flags(enabled=False):
            yield
    elif name == "threads-1":
        n = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(n)
    elif name in ("ops-torch", "ops-cpu"):
        with ops.use_backend(name[4:]):
            yield
    else:
        raise ValueError(f"unknown variant {name!r}")


def _available(name) -> str:
    """'' when the variant can run here, else why not."""
    from . import ops

    if name == "ops-cpu":
        return ops.backend_reason("cpu", "cpu")
    if name == "cuda":
        return "" if torch.cuda.is_available() else "no CUDA device"
    if name == "triton":
        try:
            import triton  # noqa: F401
        except ImportError as exc:
            return f"triton not importable ({exc})"
    return ""


def _subprocess_digests(paths, env_extra, device, max_frames, timeout):
    env = {**os.environ, **env_extra}
    cmd = [sys.executable, "-m", "rac_video.check", "--device", device, "--digests", *map(str, paths)]
    if max_frames is not None:
        cmd += ["--max-frames", str(max_frames)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}")
    return json.loads(r.stdout)


def _all_digests(paths, device="cpu", max_frames=None):
    return [frame_digests(p, device=device, max_frames=max_frames) for p in paths]


def check_files(paths, *, variants=None, triton: bool = False, max_frames: int | None = None,
                timeout: float = 3600) -> dict:
    """Decode every file plainly and under each variant (one subprocess per variant for all files);
    the report (see the module docstring), totals over all files and frames."""
    paths = [str(p) for p in paths]
    names = list(variants) if variants else [*IN_PROCESS, "isa-avx2", "isa-avx", "omp-1",
                                            *(["triton"] if triton else []), "cuda"]
    base = _all_digests(paths, max_frames=max_frames)
    frames = [(p, d) for p, ds in zip(paths, base) for d in ds]
    report = {"files": paths, "frames": len(frames),
              "baseline_failures": [f"{p}#{d['index']}" for p, d in frames if "error" in d], "variants": {}}
    for name in names:
        why = _available(name)
        if why:
            report["variants"][name] = {"skipped": why}
            continue
        try:
            if name in IN_PROCESS:
                with _variant(name):
                    got = _all_digests(paths, max_frames=max_frames)
            elif name == "cuda":
                got = _all_digests(paths, device="cuda", max_frames=max_frames)
            else:
                got = _subprocess_digests(paths, SUBPROCESS[name], "cpu", max_frames, timeout)
        except Exception as exc:  # noqa: BLE001 — the variant could not run at all
            report["variants"][name] = {"skipped": f"could not run: {exc}"}
            continue
        pairs = [(f"{p}#{b['index']}", g, b) for p, gs, bs in zip(paths, got, base) for g, b in zip(gs, bs)]
        ok = [(k, g, b) for k, g, b in pairs if "error" not in g and "error" not in b]
        report["variants"][name] = {
            "failed": [k for k, g, _ in pairs if "error" in g],
            "symbols_differ": [k for k, g, b in ok if g["symbols"] != b["symbols"]],
            "pixels_differ": [k for k, g, b in ok if g["pixels"] != b["pixels"]],
            "errors": sorted({g["error"] for _, g, _ in pairs if "error" in g})[:5]}
    ran = [v for v in report["variants"].values() if "skipped" not in v]
    report["decodes"] = len(frames) * (1 + len(ran))
    report["failed_decodes"] = len(report["baseline_failures"]) + sum(len(v["failed"]) for v in ran)
    report["symbol_differences"] = sum(len(v["symbols_differ"]) for v in ran)
    report["pixel_differences"] = sum(len(v["pixels_differ"]) for v in ran)
    report["identical_symbols"] = report["failed_decodes"] == 0 and report["symbol_differences"] == 0
    return report


def main(argv=None) -> int:
    """``python -m rac_video.check --digests FILE``: the per-frame digests as JSON (a variant's worker)."""
    p = argparse.ArgumentParser()
    p.add_argument("--digests", nargs="+", required=True)
    p.add_argument("--device", default="cpu")
    p.add_argument("--max-frames", type=int, default=None)
    a = p.parse_args(argv)
    print(json.dumps(_all_digests(a.digests, device=a.device, max_frames=a.max_frames)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
