"""Shipped weights: one file per model version under rac_video/weights/, named by the bitstream.

``<name>.pt`` holds the state dicts of g_a, g_s, the denoiser and the hyperprior (and, for
models trained with it, the checkerboard context); ``<name>.json`` records its sha256, the
training commands, data and final losses. :func:`load_state` refuses a file whose hash differs from the record.
"""
from __future__ import annotations

import hashlib
import os
import json
import time
from pathlib import Path

import torch

from .. import errors as _errors

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_MODEL = "rac-tiny-v6"
WEIGHTS_ENV = "RAC_VIDEO_WEIGHTS"  # a folder of extra models (name.pt + name.json), searched first


def _dirs() -> list[Path]:
    extra = os.environ.get(WEIGHTS_ENV)
    return ([Path(extra)] if extra else []) + [WEIGHTS_DIR]


class ModelMismatchError(_errors.ModelMismatchError):
    """A bitstream names a model or weights hash other than the loaded one."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def available() -> list[str]:
    return sorted({p.stem for d in _dirs() for p in d.glob("*.pt")})


def read_record(name: str) -> dict:
    """The JSON record of an installed model, read without loading or hashing its weights."""
    folder = next((d for d in _dirs() if (d / f"{name}.json").exists()), None)
    if folder is None:
        raise ModelMismatchError(f"model {name!r} has no record (have: {', '.join(available()) or 'none'})")
    return json.loads((folder / f"{name}.json").read_text())


def training_stages(name: str) -> dict:
    """The training stages of a model from its record, those of inherited modules from its base's."""
    record = read_record(name)
    base = record.get("base")
    return {**(training_stages(base["name"]) if base else {}), **record.get("stages", {})}


def load_state(name: str = DEFAULT_MODEL) -> tuple[dict, dict]:
    """(state, record) of a shipped model, hash-checked."""
    if not isinstance(name, str) or not name.replace("-", "").replace("_", "").isalnum():
        raise ModelMismatchError(f"bad model name {name!r}")
    folder = next((d for d in _dirs() if (d / f"{name}.pt").exists()), WEIGHTS_DIR)
    path, rec_path = folder / f"{name}.pt", folder / f"{name}.json"
    if not path.exists() or not rec_path.exists():
        raise ModelMismatchError(f"model {name!r} is not installed (have: {', '.join(available()) or 'none'})")
    record = json.loads(rec_path.read_text())
    digest = sha256(path)
    if digest != record["sha256"]:
        raise ModelMismatchError(f"weights file {path} has sha256 {digest[:16]}…, its record says "
                                 f"{record['sha256'][:16]}…: reinstall the package")
    state = torch.load(path, map_location="cpu", weights_only=True)
    base = record.get("base")
    if base:            # a model that adds to another: its modules, then the base's (pinned by hash)
        base_state, base_record = load_state(base["name"])
        if base_record["sha256"] != base["sha256"]:
            raise ModelMismatchError(f"model {name} builds on {base['name']} with sha256 {base['sha256'][:16]}…, "
                                     f"the installed one has {base_record['sha256'][:16]}…: reinstall the package")
        state = {**{k: v for k, v in base_state.items() if k in base["modules"]}, **state}
    return state, record


def export(run: Path, out_dir: Path, name: str = DEFAULT_MODEL, *, posterior_fusion: float = 0.0,
           rdoq: float = 0.0, steps: int | None = None, base: str | None = None) -> str:
    """Pack the final checkpoints of a training run into ``out_dir/name.pt`` + ``name.json``; the
    decoder's posterior fusion constant, the encoder's default RDOQ α and its default DDIM steps K go
    into the record when set (measured by tools/tune_encoder.py; the fusion constant is part of how
    the model decodes, α and K are encoder defaults)."""
    run, out_dir = Path(run), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state, stages = {}, {}
    # stage 4 (the decoder fine-tune on decoded latents), when present, replaces stage 0's g_s
    parts = [(0, ("g_a", "g_s")), (1, ("denoiser",)), (2, ("hyperprior",))]
    if (run / "stage4.pt").exists():
        parts.append((4, ("g_s",)))
    versions = set()        # the q → γ ramp the rate-side stages (2, and 4 if present) were trained with
    for stage, keys in parts:
        ck = torch.load(run / f"stage{stage}.pt", map_location="cpu", weights_only=False)
        if stage in (2, 4):
            versions.add(ck["extra"].get("schedule_version", 1))
        if stage == 2 and "context" in ck["modules"]:      # the checkerboard context (stage 2 --context)
            keys = keys + ("context",)
        for k in keys:
            state[k] = {n: t.contiguous() for n, t in ck["modules"][k].items()}
        log = [json.loads(line) for line in open(run / f"stage{stage}.jsonl")]
        stages[f"stage{stage}"] = {"steps": ck["step"], "seconds": round(ck["extra"].get("seconds", 0)),
                                   "final": {k: v for k, v in log[-1].items() if k not in ("step", "time")}}
    if (run / "stage2q.pt").exists():          # the integer entropy networks (rac_video.entropy.intnet)
        from ..entropy import intnet
        from .train import frozen_entropy_model

        ck = torch.load(run / "stage2q.pt", map_location="cpu", weights_only=False)
        C = state["g_a"]["scale"].shape[1]
        hp, ctx, _ = frozen_entropy_model(run / "stage2.pt", C)
        qh, qc = intnet.QHyperSynthesis(hp), (intnet.QContext(ctx) if ctx is not None else None)
        qh.load_state_dict(ck["modules"]["qhyper"])
        if qc is not None:
            qc.load_state_dict(ck["modules"]["qcontext"])
        state["intnet"] = intnet.freeze(qh, qc)
        log = [json.loads(line) for line in open(run / "stage2q.jsonl")]
        stages["stage2q"] = {"steps": ck["step"], "seconds": round(ck["extra"].get("seconds", 0)),
                             "final": {k: v for k, v in log[-1].items() if k not in ("step", "time")}}
        parts.append(("2q", ("intnet",)))
    if len(versions) != 1:
        raise ValueError(f"stages 2 and 4 of {run} were trained with different schedule versions {versions}")
    base_info = None
    if base:            # store only what differs from an installed model; the record pins the base's hash
        base_state, base_record = load_state(base)
        same = [k for k in state if k in base_state and set(state[k]) == set(base_state[k])
                and all(torch.equal(state[k][n], base_state[k][n]) for n in state[k])]
        same += [k for k in ("context",) if k in base_state and k not in state]
        state = {k: v for k, v in state.items() if k not in same}
        base_info = {"name": base, "sha256": base_record["sha256"], "modules": sorted(same)}
        for stage, keys in parts:       # the inherited modules' training is in the base's record
            if all(k in same for k in keys):
                stages.pop(f"stage{stage}", None)
        parts = [(st, keys) for st, keys in parts if not all(k in same for k in keys)]
    path = out_dir / f"{name}.pt"
    torch.save(state, path)
    n_params = sum(t.numel() for sd in state.values() for t in sd.values())
    record = {"name": name, "sha256": sha256(path), "bytes": path.stat().st_size, "parameters": n_params,
              "schedule_version": versions.pop(),
              **({"base": base_info} if base_info else {}),
              **({"device_independent": True} if "intnet" in state else {}),
              **({"posterior_fusion": float(posterior_fusion)} if posterior_fusion else {}),
              **({"rdoq": float(rdoq)} if rdoq else {}),
              **({"steps": int(steps)} if steps is not None else {}),
              "exported": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "stages": stages,
              "data": "../shared/data/train (CID22-512 250 PNG + BSDS500 500 JPEG), random crops + flips",
              "commands": [f"python -m rac_video.codec.train --stage {s} --run {run} --minutes M" for s, _ in parts]
              + [f"python -m rac_video.codec.train --run {run} --export {out_dir} --name {name}"
                 + (f" --posterior-fusion {posterior_fusion:g}" if posterior_fusion else "")
                 + (f" --rdoq {rdoq:g}" if rdoq else "")
                 + (f" --ddim-steps {steps}" if steps is not None else "")
                 + (f" --base {base}" if base else "")]}
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return json.dumps(record, indent=2)
