"""Shipped weights: one file per model version under rac_video/weights/, named by the bitstream.

``<name>.pt`` holds the state dicts of g_a, g_s, the denoiser and the hyperprior (and, for
models trained with it, the checkerboard context); ``<name>.json`` records its sha256, the
training commands, data and final losses. :func:`load_state` refuses a file whose hash differs from the record.

One codebase for every size: a model's module sizes are its :class:`Architecture`, kept in its record
(``"architecture"``; records without one are rac-tiny, with the latent width read from the weights),
and :func:`build_module` / :func:`load_modules` are the one place that builds modules from it — for
``Codec``, for training (its ``frozen_*`` loaders) and for tools. ``ARCHITECTURES`` names the configs
training starts from (``--arch``).

Storage formats (the record's ``"weights_format"``, 1 when absent): 1 keeps every tensor as trained
(float32); 2 stores the float tensors of the float modules as float16 (half the bytes: room for larger
models in the 30 MB budget) and the integer entropy networks as they are. The codec always computes in
float32: a format-2 file is widened once at load, a fixed function of the stored bytes, so the sha256
of the file — what a bitstream names — still pins the exact weights it decodes with.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import json
import time
from pathlib import Path

import torch

from .. import errors as _errors

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_MODEL = "rac-tiny-v6p"  # rac-tiny-v6 (I-frames byte for byte) + the temporal prior of P-frames
WEIGHTS_ENV = "RAC_VIDEO_WEIGHTS"  # a folder of extra models (name.pt + name.json), searched first
WEIGHTS_FORMATS = {1: "float32", 2: "float16 storage of the float modules"}
HALF_FORMAT = 2


@dataclasses.dataclass(frozen=True)
class Architecture:
    """The module sizes of one model (docs/design.md §3): ``analysis`` the stride-2 stages of g_a as
    (channels, residual blocks), so f = 2^len(analysis); ``synthesis`` the scales of g_s from the latent
    up (one more entry); ``importance_analysis``: g_a modulated by the level map (SFT, Song et al. 2021);
    ``gdn``: GDN / inverse GDN after the resampling convolutions instead of GELU (autoencoder.GDN)."""

    latent_channels: int = 16
    analysis: tuple = ((16, 0), (48, 1), (64, 1))
    synthesis: tuple = ((64, 1), (48, 1), (32, 0), (16, 0))
    denoiser_width: int = 64
    hyper_channels: int = 8
    hyper_width: int = 64
    context_width: int = 64
    importance_analysis: bool = False
    gdn: bool = False

    def __post_init__(self):
        ints = ("latent_channels", "denoiser_width", "hyper_channels", "hyper_width", "context_width")
        try:
            for f in ("analysis", "synthesis"):          # JSON gives lists: tuples of int pairs
                object.__setattr__(self, f, tuple((int(c), int(r)) for c, r in getattr(self, f)))
            bad = any(isinstance(getattr(self, k), bool) or int(getattr(self, k)) < 1 for k in ints)
        except (TypeError, ValueError):
            bad = True
        if bad or any(c < 1 or r < 0 for c, r in self.analysis + self.synthesis):
            raise ModelMismatchError(f"architecture sizes must be positive integers: {self}")
        if len(self.synthesis) != len(self.analysis) + 1 or self.factor not in (8, 16):
            raise ModelMismatchError(f"architecture needs f = 8 or 16 and one more synthesis scale than analysis "
                                     f"stages, got {len(self.analysis)} stages and {len(self.synthesis)} scales")
        if self.denoiser_width % 8:
            raise ModelMismatchError(f"denoiser width must be a multiple of 8 (GroupNorm), got {self.denoiser_width}")

    @property
    def factor(self) -> int:
        return 2 ** len(self.analysis)

    def to_record(self) -> dict:
        return {k: [list(p) for p in v] if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_record(cls, d: dict) -> "Architecture":
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ModelMismatchError(f"model architecture has fields this build does not know: {sorted(unknown)}: "
                                     "upgrade rac_video")
        return cls(**d)

    def save(self, path) -> None:
        """Write :meth:`to_record` as JSON (what ``--arch FILE.json`` reads back with :meth:`load`)."""
        Path(path).write_text(json.dumps(self.to_record(), indent=1) + "\n")

    @classmethod
    def load(cls, path) -> "Architecture":
        """The architecture a :meth:`save` file holds; ValueError / TypeError / ModelMismatchError if it
        is not JSON, or not an architecture record."""
        return cls.from_record(json.loads(Path(path).read_text()))


ARCHITECTURES = {
    "rac-tiny": Architecture(),                   # the shipped rac-tiny-v1 … v6 (≈ 1.4 M parameters)
    # the larger model of issue 22 (≈ 11 M parameters): f = 16, 32 latent channels (0.125 latent elements
    # per pixel against rac-tiny's 0.25), wider residual transforms, importance-conditioned analysis. g_s +
    # one denoiser step on a Kodak-sized latent: 2.6× rac-tiny's time at 48 channels (1 thread, this VM). A config
    # to train (``--arch rac-small``), not a shipped model. The latent width is the one choice the
    # equal-CPU-time experiments made (tools/arch_experiments.py, chosen on Kodak 1–12: 32 channels beat
    # 48 and 64 by the RD proxy, docs/results.md "Architecture experiments"); f = 16 over f = 8 they
    # confirmed; the residual blocks and the modulation stay (what they cost there is training speed, which a
    # GPU budget absorbs) and GELU stays over GDN (GDN: better PSNR, worse MS-SSIM dB).
    "rac-small": Architecture(latent_channels=32, analysis=((48, 0), (96, 1), (160, 1), (192, 1)),
                              synthesis=((192, 2), (128, 1), (80, 1), (40, 0), (20, 0)), denoiser_width=160,
                              hyper_channels=24, hyper_width=128, context_width=128, importance_analysis=True),
}


def architecture(record: dict, state: dict | None = None) -> Architecture:
    """A model's architecture from its record; a record without one is rac-tiny, with the latent width of
    its weights (``state``) when given."""
    if "architecture" in record:
        return Architecture.from_record(record["architecture"])
    if state is not None and "g_a" in state:
        return dataclasses.replace(Architecture(), latent_channels=int(state["g_a"]["scale"].shape[1]))
    return Architecture()


MODULE_KEYS = ("g_a", "g_s", "denoiser", "hyperprior", "context", "g_s_real")


def build_module(key: str, arch: Architecture, state_dict: dict | None = None, *, frozen: bool = True,
                 conditioned: bool | None = None):
    """One module of a model (``key`` in MODULE_KEYS) built to ``arch``; with ``state_dict`` loaded from it,
    and ``frozen``: eval mode without gradients. ``conditioned`` (hyperprior): with the [t(γ), ℓ] input —
    None reads it from ``state_dict`` (an unconditioned one is the ablation of stage 3), else True."""
    from .autoencoder import Analysis, Synthesis
    from .context import CheckerboardContext
    from .denoiser import Denoiser
    from .hyperprior import HyperPrior

    C = arch.latent_channels
    if key == "g_a":
        m = Analysis(C, stages=arch.analysis, importance=arch.importance_analysis, gdn=arch.gdn)
    elif key in ("g_s", "g_s_real"):            # g_s_real: the realism synthesis (rac_video.codec.realism)
        m = Synthesis(C, stages=arch.synthesis, gdn=arch.gdn)
    elif key == "denoiser":
        m = Denoiser(C, width=arch.denoiser_width)
    elif key == "hyperprior":
        if conditioned is None:
            conditioned = state_dict is None or state_dict["h_a.0.weight"].shape[1] != C
        m = HyperPrior(C, hyper_channels=arch.hyper_channels, width=arch.hyper_width, conditioned=conditioned)
    elif key == "context":
        m = CheckerboardContext(C, width=arch.context_width)
    else:
        raise ValueError(f"unknown module {key!r} (have {', '.join(MODULE_KEYS)})")
    if state_dict is not None:
        try:
            m.load_state_dict({n: t.float() if t.is_floating_point() else t for n, t in state_dict.items()})
        except RuntimeError as exc:
            raise ModelMismatchError(f"weights of {key} do not fit the model's architecture: "
                                     f"{str(exc).splitlines()[0]}") from None
    return m.eval().requires_grad_(False) if frozen else m


def load_modules(name: str = DEFAULT_MODEL) -> tuple[dict, Architecture, dict, dict]:
    """(modules, architecture, state, record) of an installed model: every float module in the state
    built and frozen (g_a, g_s, denoiser, hyperprior, and context when the model has one)."""
    state, record = load_state(name)
    arch = architecture(record, state)
    modules = {k: build_module(k, arch, state[k]) for k in MODULE_KEYS if k in state}
    return modules, arch, state, record


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
    fmt = record.get("weights_format", 1)
    if fmt not in WEIGHTS_FORMATS:
        raise ModelMismatchError(f"model {name!r} is stored in weights format {fmt!r}, this build reads "
                                 f"{sorted(WEIGHTS_FORMATS)}: upgrade rac_video")
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


def half_state(state: dict) -> dict:
    """Weights format 2: the float tensors of the float modules as float16 (the integer networks,
    ``intnet``, and integer tensors unchanged)."""
    return {k: sd if k == "intnet" else {n: t.half() if t.is_floating_point() else t for n, t in sd.items()}
            for k, sd in state.items()}


def save_model(state: dict, out_dir: Path, name: str, **record) -> dict:
    """Write ``state`` as an installable model ``out_dir/name.pt`` with its record ``name.json`` (``record``'s
    fields plus name, sha256 and bytes); returns the record."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.pt"
    torch.save(state, path)
    record = {**record, "name": name, "sha256": sha256(path), "bytes": path.stat().st_size}
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def export(run: Path, out_dir: Path, name: str = DEFAULT_MODEL, *, posterior_fusion: float = 0.0,
           rdoq: float = 0.0, steps: int | None = None, base: str | None = None, half: bool = False) -> str:
    """Pack the final checkpoints of a training run into ``out_dir/name.pt`` + ``name.json``; the
    decoder's posterior fusion constant, the encoder's default RDOQ α and its default DDIM steps K go
    into the record when set (measured by tools/tune_encoder.py; the fusion constant is part of how
    the model decodes, α and K are encoder defaults). ``half``: weights format 2 (float16 storage)."""
    run, out_dir = Path(run), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state, stages = {}, {}
    # stage 4 (the decoder fine-tune on decoded latents), when present, replaces stage 0's g_s
    parts = [(0, ("g_a", "g_s")), (1, ("denoiser",)), (2, ("hyperprior",))]
    if (run / "stage4.pt").exists():
        parts.append((4, ("g_s",)))
    versions = set()        # the q → γ ramp the rate-side stages (2, and 4 if present) were trained with
    arch = None             # the architecture stage 0 recorded (runs from before: rac-tiny, no record entry)
    for stage, keys in parts:
        ck = torch.load(run / f"stage{stage}.pt", map_location="cpu", weights_only=False)
        if stage == 0:
            arch = ck["extra"].get("architecture")
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
    if half:
        state = half_state(state)
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
              **({"weights_format": HALF_FORMAT} if half else {}),
              **({"architecture": Architecture.from_record(arch).to_record()} if arch is not None else {}),
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
                 + (f" --base {base}" if base else "")
                 + (" --half" if half else "")]}
    (out_dir / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return json.dumps(record, indent=2)
