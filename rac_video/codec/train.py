"""Three-stage training (docs/design.md §3.7), resumable, CPU or GPU.

    python -m rac_video.codec.train --stage 0 --minutes 30      # autoencoder g_a / g_s
    python -m rac_video.codec.train --stage 1 --minutes 25      # spatially varying denoiser
    python -m rac_video.codec.train --stage 2 --minutes 25      # conditioned hyperprior
    python -m rac_video.codec.train --export rac_video/weights  # pack the weights we ship

Stage 0 trains on random crops (with flips) of ``--data`` (default ../shared/data/train).
Stages 1 and 2 freeze g_a and train on cached latents of 128×128 crops (computed once, kept in the
run folder). Each stage checkpoints every ``--ckpt-every`` seconds to RUN/stageN.pt and resumes
from there; losses go to RUN/stageN.jsonl.

The same commands run on a GPU (``--device``, default cuda when available): batches are drawn on
the CPU from seeded generators and moved over, forward passes run under bf16 autocast (``--bf16``,
default on for CUDA; rates and losses are computed in float32) and the image transforms use
channels-last memory on CUDA.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import schedule
from . import distributed as dist
from ..entropy.models import FactorizedPrior, GaussianConditional, universal_quantize
from .context import anchor_mask
from .denoiser import denoise
from .weights import ARCHITECTURES, Architecture, build_module
from ..importance.random_maps import random_importance

DEFAULT_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "train"
CROP = 128


def load_images(root: Path, limit: int | None = None) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    if not files:
        raise FileNotFoundError(f"no training images under {root}")
    imgs = []
    for p in files[:limit]:
        im = np.asarray(Image.open(p).convert("RGB"))
        if min(im.shape[:2]) >= CROP:
            imgs.append(im)
    if not imgs:
        raise FileNotFoundError(f"no training image under {root} is at least {CROP}×{CROP} pixels")
    return imgs


def random_crops(imgs, n, rng: np.random.Generator, crop: int = CROP) -> torch.Tensor:
    out = np.empty((n, crop, crop, 3), np.uint8)
    for i in range(n):
        im = imgs[rng.integers(len(imgs))]
        y, x = rng.integers(im.shape[0] - crop + 1), rng.integers(im.shape[1] - crop + 1)
        c = im[y:y + crop, x:x + crop]
        if rng.random() < 0.5:
            c = c[:, ::-1]
        out[i] = c
    return torch.from_numpy(out).permute(0, 3, 1, 2).float() / 255.0


def importance_maps(n, h, w, rng: np.random.Generator) -> torch.Tensor:
    """(n,1,h,w) random training importance maps (rac_video.importance.random_maps kinds)."""
    return torch.from_numpy(np.stack([random_importance(rng, (h, w)) for _ in range(n)])[:, None]).float()


def random_gamma_maps(n, h, w, gen, rng) -> torch.Tensor:
    """Spatially varying log-SNR maps spanning random sub-ranges of [GAMMA_MIN, GAMMA_MAX]."""
    m = importance_maps(n, h, w, rng)
    a = torch.rand(n, 1, 1, 1, generator=gen) * (schedule.GAMMA_MAX - schedule.GAMMA_MIN) + schedule.GAMMA_MIN
    b = torch.rand(n, 1, 1, 1, generator=gen) * (schedule.GAMMA_MAX - schedule.GAMMA_MIN) + schedule.GAMMA_MIN
    return torch.minimum(a, b) + (torch.maximum(a, b) - torch.minimum(a, b)) * m


def uniform_noise(shape, gen) -> torch.Tensor:
    return (torch.rand(shape, generator=gen) - 0.5) * 12 ** 0.5


def random_level_tables(n, h, w, rng, gen):
    """Random importance levels (N,1,h,w) and qualities → the per-element Δ and γ maps of each
    sample (the codec's tables, current schedule version)."""
    L = schedule.DEFAULT_LEVELS
    level = (importance_maps(n, h, w, rng) * (L - 1)).round().long()
    qs = torch.randint(0, schedule.Q_MAX + 1, (n,), generator=gen)
    delta = torch.stack([schedule.level_table(int(q)).delta for q in qs])          # (n, L)
    gam = torch.stack([schedule.level_table(int(q)).gamma for q in qs])
    d = torch.gather(delta, 1, level.view(n, -1)).view(n, 1, h, w)
    g = torch.gather(gam, 1, level.view(n, -1)).view(n, 1, h, w)
    return level, d, g


class Device:
    """Where a stage runs: moves batches and modules, and the bf16 autocast context."""

    def __init__(self, name: str | None, bf16: bool | None):
        self.dev = torch.device(name or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.bf16 = (self.dev.type == "cuda") if bf16 is None else bf16
        self.channels_last = self.dev.type == "cuda"

    def __call__(self, t: torch.Tensor, image: bool = False) -> torch.Tensor:
        t = t.to(self.dev, non_blocking=True)
        return t.contiguous(memory_format=torch.channels_last) if image and self.channels_last else t

    def module(self, m, image: bool = False):
        m = m.to(self.dev)
        return m.to(memory_format=torch.channels_last) if image and self.channels_last else m

    def autocast(self):
        return torch.autocast(self.dev.type, dtype=torch.bfloat16, enabled=self.bf16)


def _save_atomic(obj, path: Path) -> None:
    """torch.save that a concurrent reader never sees half-written (rac_video._atomic)."""
    from .._atomic import write_bytes_atomic

    buf = io.BytesIO()
    torch.save(obj, buf)
    write_bytes_atomic(path, buf.getvalue())


class Run:
    def __init__(self, folder: Path, stage, modules: dict, opt, extra=None):
        self.path, self.log = folder / f"stage{stage}.pt", folder / f"stage{stage}.jsonl"
        self.modules, self.opt, self.step, self.extra = modules, opt, 0, extra or {}
        if self.path.exists():
            ck = torch.load(self.path, map_location="cpu", weights_only=False)
            new = [k for k in modules if k not in ck["modules"]]
            for k, m in modules.items():
                if k not in new:
                    m.load_state_dict(ck["modules"][k])
            if new:         # a module added to a stage (e.g. stage 2's --context): fresh, and so is Adam
                print(f"stage {stage}: {', '.join(new)} not in {self.path.name}, starting fresh (optimizer too)")
            elif ck.get("opt") is not None:
                opt.load_state_dict(ck["opt"])
            self.step, self.extra = ck["step"], ck.get("extra", {})
            print(f"resumed stage {stage} at step {self.step}")

    def save(self):
        if not dist.is_main():          # under torchrun only rank 0 writes (the ranks hold the same weights)
            return
        _save_atomic({"modules": {k: m.state_dict() for k, m in self.modules.items()}, "opt": self.opt.state_dict(),
                      "step": self.step, "extra": self.extra}, self.path)

    def record(self, **kv):
        if not dist.is_main():
            return
        with open(self.log, "a") as f:
            f.write(json.dumps({"step": self.step, "time": time.time(), **kv}) + "\n")


class _NoBar:
    def __init__(self, *a, **kw):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass

    def set_postfix(self, d):
        pass


def compiled(args, fn):
    """``torch.compile(fn)`` under ``--compile`` (the module itself stays as it is: checkpoints keep
    their plain parameter names), else ``fn``."""
    return torch.compile(fn) if getattr(args, "compile", False) else fn


def _loop(run: Run, step_fn, minutes: float, ckpt_every: float, log_every: int = 50, opt=None, lr=None,
          max_steps: int | None = None):
    """Run ``step_fn`` for ``minutes`` of wall time (in total over resumes) or until ``max_steps``,
    cosine-decaying the lr to lr/20 over whichever budget is given (steps when both are)."""
    try:
        from tqdm import tqdm
    except ImportError:             # GPU machines may lack it: no progress bar
        tqdm = _NoBar

    budget = minutes * 60
    spent = float(run.extra.get("seconds", 0.0))
    t0, t_ck = time.time() - spent, time.time()
    acc, n = {}, 0
    dist.broadcast_modules(run.modules.values())        # every rank starts from rank 0's weights
    with tqdm(initial=run.step, desc=run.path.stem, mininterval=5, disable=not dist.is_main()) as bar:
        while dist.agree(time.time() - t0 < budget and (max_steps is None or run.step < max_steps)):
            if opt is not None:
                frac = run.step / max_steps if max_steps else (time.time() - t0) / budget
                for grp in opt.param_groups:
                    grp["lr"] = lr * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
            run.extra["seconds"] = time.time() - t0
            losses = step_fn()
            run.step += 1
            n += 1
            for k, v in losses.items():
                acc[k] = acc.get(k, 0.0) + v
            bar.update(1)
            if run.step % log_every == 0:
                mean = {k: v / n for k, v in acc.items()}
                run.record(**mean)
                bar.set_postfix({k: f"{v:.4g}" for k, v in mean.items()})
                acc, n = {}, 0
            if time.time() - t_ck > ckpt_every:
                run.save()
                t_ck = time.time()
    if n:                                     # the last partial logging window
        run.record(**{k: v / n for k, v in acc.items()})
    sums = dist.checksums(run.modules.values())
    if sums is not None:                      # torchrun: did the ranks stay identical?
        run.extra["ddp"] = {"world_size": dist.world_size(), "checksums": sums,
                            "in_sync": all(c == sums[0] for c in sums)}
    run.save()


def ms_ssim_loss_term(x_hat, x):
    """Differentiable MS-SSIM (5 scales, pytorch-msssim) of a batch of [0, 1] crops > 160 px."""
    from pytorch_msssim import ms_ssim

    return ms_ssim(x_hat.clamp(0, 1), x, data_range=1.0)


def reconstruction_loss(x_hat, x, msssim_weight: float = 0.0):
    """Stages 0 and 4: MSE, plus w·(1 − MS-SSIM) when w > 0 (the metric the codec is judged on,
    optimised directly); returns (loss, logged values)."""
    mse = F.mse_loss(x_hat, x)
    out = {"mse": mse.item(), "psnr": -10 * np.log10(max(mse.item(), 1e-10))}
    if not msssim_weight:
        return mse, out
    ms = ms_ssim_loss_term(x_hat, x)
    out["ms_ssim"] = ms.item()
    return mse + msssim_weight * (1 - ms), out


def named_architecture(name: str) -> Architecture:
    """``--arch``: a name in ARCHITECTURES, or the path of a JSON file holding an architecture record
    (``Architecture.to_record``: experiments with sizes that have no name, tools/arch_experiments.py)."""
    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    path = Path(name)
    if not path.is_file():
        raise SystemExit(f"--arch {name!r} is neither an architecture ({', '.join(sorted(ARCHITECTURES))}) "
                         "nor a JSON file of one")
    try:
        return Architecture.load(path)
    except (ValueError, TypeError) as exc:     # bad JSON, unknown fields, bad sizes (ModelMismatchError)
        raise SystemExit(f"--arch {name}: not an architecture record: {exc}") from None


def run_architecture(folder: Path, name: str | None = None) -> Architecture:
    """The architecture of a run: the one its stage-0 checkpoint records (runs from before architectures
    were recorded: rac-tiny with the checkpoint's latent width), else ``name`` (``named_architecture``)."""
    path = folder / "stage0.pt"
    if path.exists():
        ck = torch.load(path, map_location="cpu", weights_only=False)
        if "architecture" in ck.get("extra", {}):
            arch = Architecture.from_record(ck["extra"]["architecture"])
        else:
            import dataclasses
            arch = dataclasses.replace(Architecture(), latent_channels=int(ck["modules"]["g_a"]["scale"].shape[1]))
        if name is not None and arch != named_architecture(name):
            raise SystemExit(f"{folder} holds a {arch} model, not --arch {name}")
        return arch
    return named_architecture(name or "rac-tiny")


def stage0(args, folder):
    """The autoencoder. An importance-conditioned g_a (``importance_analysis``) sees a random level map
    per crop and the MSE is weighted by it, w = ½ + ℓ/(L−1) (Song et al. 2021: the map says where
    distortion matters, the modulation lets the encoder act on it)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(dist.seed_offset(args.seed))
    imgs = load_images(args.data, args.data_limit)
    D = args.dev
    arch = run_architecture(folder, args.arch)
    g_a = D.module(build_module("g_a", arch, frozen=False), True)
    g_s = D.module(build_module("g_s", arch, frozen=False), True)
    params = list(g_a.parameters()) + list(g_s.parameters())
    opt = torch.optim.Adam(params, lr=args.lr or 5e-4)
    run = Run(folder, 0, {"g_a": g_a, "g_s": g_s}, opt, extra={"architecture": arch.to_record()})
    run.extra["architecture"] = arch.to_record()
    gen = torch.Generator().manual_seed(dist.seed_offset(run.step + 1))
    L, f = schedule.DEFAULT_LEVELS, arch.factor

    fa, fs = compiled(args, g_a), compiled(args, g_s)

    def step():
        x = D(random_crops(imgs, args.batch, rng, args.crop), True)
        m = None
        if arch.importance_analysis:
            lv = (importance_maps(x.shape[0], x.shape[2] // f, x.shape[3] // f, rng) * (L - 1)).round() / (L - 1)
            m = D(lv)
        with D.autocast():
            y = fa(x, m) if m is not None else fa(x)
            # a little latent noise (2 % of the latent spread) makes g_s tolerant to imperfect denoising
            x_hat = fs(y + 0.02 * y.detach().float().std() * D(torch.randn(y.shape, generator=gen)))
        if m is None:
            loss, out = reconstruction_loss(x_hat.float(), x, args.msssim_weight)
        else:
            w = 0.5 + F.interpolate(m, scale_factor=f, mode="nearest")
            err = (x_hat.float() - x) ** 2
            mse = err.mean()
            out = {"mse": mse.item(), "psnr": -10 * np.log10(max(mse.item(), 1e-10))}
            loss = (w * err).mean()
            if args.msssim_weight:
                ms = ms_ssim_loss_term(x_hat.float(), x)
                out["ms_ssim"] = ms.item()
                loss = loss + args.msssim_weight * (1 - ms)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(params)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return out

    _loop(run, step, args.minutes, args.ckpt_every, opt=opt, lr=args.lr or 5e-4, max_steps=args.steps)
    # latent normalisation: per-channel std on fresh crops, folded into both transforms
    with torch.no_grad():
        g_a.scale.fill_(1.0)
        ys = torch.cat([analysis(g_a, D(random_crops(imgs, 32, rng), True), rng).float() for _ in range(8)])
        std = ys.transpose(0, 1).reshape(ys.shape[1], -1).std(dim=1).clamp_min(1e-3).view(1, -1, 1, 1)
        g_a.scale.copy_(std)
        g_s.scale.copy_(std)
    dist.broadcast_modules([g_a, g_s])          # rank 0's latent scale everywhere
    run.save()


def analysis(g_a, x, rng):
    """g_a of a batch; an importance-conditioned one sees random level maps (training's latents)."""
    if not getattr(g_a, "importance", False):
        return g_a(x)
    f, L = g_a.factor, schedule.DEFAULT_LEVELS
    m = (importance_maps(x.shape[0], x.shape[2] // f, x.shape[3] // f, rng) * (L - 1)).round() / (L - 1)
    return g_a(x, m.to(x.device))


def _arch(arch, channels=None) -> Architecture:
    """A checkpoint's architecture: the one given, else rac-tiny with ``channels`` latent channels."""
    if arch is not None:
        return arch if isinstance(arch, Architecture) else Architecture.from_record(arch)
    import dataclasses
    return dataclasses.replace(Architecture(), latent_channels=int(channels)) if channels else Architecture()


def frozen_autoencoder(folder):
    """g_a, g_s of ``folder/stage0.pt`` (its architecture from the checkpoint), eval mode, no gradients."""
    ck = torch.load(folder / "stage0.pt", map_location="cpu", weights_only=False)
    arch = _arch(ck.get("extra", {}).get("architecture"), ck["modules"]["g_a"]["scale"].shape[1])
    return build_module("g_a", arch, ck["modules"]["g_a"]), build_module("g_s", arch, ck["modules"]["g_s"])


def frozen_entropy_model(path: Path, channels: int, arch: Architecture | None = None):
    """(hyperprior, context or None, step) of a stage-2 / stage-3 checkpoint, eval mode, no gradients;
    an unconditioned hyperprior (stage 3) is recognised by the input width of its analysis. ``arch``:
    the run's architecture (default: the checkpoint's, else rac-tiny with ``channels`` latent channels)."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    arch = _arch(arch or ck.get("extra", {}).get("architecture"), channels)
    hp = build_module("hyperprior", arch, ck["modules"]["hyperprior"])
    ctx = build_module("context", arch, ck["modules"]["context"]) if "context" in ck["modules"] else None
    return hp, ctx, ck.get("step", 0)


def frozen_denoiser(path: Path, channels: int, arch: Architecture | None = None):
    """The denoiser of a stage-1 checkpoint, eval mode, no gradients (``arch`` as in frozen_entropy_model)."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    return build_module("denoiser", _arch(arch or ck.get("extra", {}).get("architecture"), channels),
                        ck["modules"]["denoiser"])


def cached_latents(args, folder):
    path = folder / "latents.pt"
    if not dist.is_main():                                    # torchrun: rank 0 computes the cache
        dist.barrier()
        return torch.load(path, map_location="cpu")
    if path.exists():
        dist.barrier()
        return torch.load(path, map_location="cpu")
    g_a, _ = frozen_autoencoder(folder)
    g_a = args.dev.module(g_a, True)
    rng = np.random.default_rng(12345)
    imgs = load_images(args.data, args.data_limit)
    with torch.no_grad():                                     # float32: the latents the codec will code
        ys = torch.cat([analysis(g_a, args.dev(random_crops(imgs, 50, rng), True), rng).cpu()
                        for _ in range(max(1, args.cache_crops // 50))]).contiguous()
    _save_atomic(ys, path)                                    # stages may start side by side
    dist.barrier()
    return ys


def uniform_gamma_maps(n, h, w, gen) -> torch.Tensor:
    """One log-SNR per sample, uniform over [GAMMA_MIN, GAMMA_MAX] (a standard diffusion model)."""
    g = torch.rand(n, 1, 1, 1, generator=gen) * (schedule.GAMMA_MAX - schedule.GAMMA_MIN) + schedule.GAMMA_MIN
    return g.expand(n, 1, h, w).contiguous()


def snr_weight(gamma: torch.Tensor, clip: float) -> torch.Tensor:
    """Per-element weight of the ε-MSE: min(SNR, clip)/SNR with SNR = e^γ, i.e. the loss is
    min(SNR, clip)·‖x̂₀ − y‖² ("min-SNR" weighting). Plain ε-MSE weighs an element's x₀ error by its
    SNR (≈ 1400 at the top quality's γ, 0.37 at the lowest): the nearly clean elements dominate;
    the clip evens that out over the codec's range. ``clip`` 0: plain ε-MSE (weight 1)."""
    if not clip:
        return torch.ones_like(gamma)
    return torch.exp(-gamma).mul(clip).clamp_max(1.0)


def stage1(args, folder, uniform_t=False):
    """The spatially varying denoiser; ``uniform_t``: the same network trained only on spatially
    constant noise levels (stage "1u", the baseline of the global-clock ablation). ``--snr-clip``:
    min-SNR weighting of the ε-MSE (:func:`snr_weight`)."""
    torch.manual_seed(1)
    ys = cached_latents(args, folder)
    D = args.dev
    arch = run_architecture(folder)
    model = D.module(build_module("denoiser", arch, frozen=False))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr or 3e-4)
    run = Run(folder, "1u" if uniform_t else 1, {"denoiser": model}, opt)
    run.extra["architecture"] = arch.to_record()
    gen = torch.Generator().manual_seed(dist.seed_offset(run.step + 11))
    rng = np.random.default_rng(dist.seed_offset(run.step + 11))
    fwd = compiled(args, model)

    def step():
        y = ys[torch.randint(len(ys), (args.batch,), generator=gen)]
        if uniform_t:
            gamma = uniform_gamma_maps(y.shape[0], y.shape[2], y.shape[3], gen)
        else:
            gamma = random_gamma_maps(y.shape[0], y.shape[2], y.shape[3], gen, rng)
        a, s = schedule.alpha_sigma(gamma)
        xi = uniform_noise(y.shape, gen)
        z, gamma, xi = D(a * y + s * xi), D(gamma), D(xi)
        with D.autocast():
            eps = fwd(z, gamma)
        err = (eps.float() - xi) ** 2
        loss = (err * snr_weight(gamma, args.snr_clip)).mean()             # ε-MSE, weighted
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(model.parameters())
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return {"eps_mse": err.mean().item(), "loss": loss.item()}

    _loop(run, step, args.minutes, args.ckpt_every, opt=opt, lr=args.lr or 3e-4, max_steps=args.steps)


def stage2(args, folder, conditioned=True):
    """The conditioned hyperprior (with ``--context``: plus the checkerboard context, trained jointly).
    ``--rate-loss bpp`` minimises the mean bits per pixel, which the high qualities dominate;
    ``log`` the mean log-rate of the samples, so every quality's relative rate counts alike (as in
    a BD-rate, which averages log-rate differences)."""
    torch.manual_seed(2)
    ys = cached_latents(args, folder)
    D = args.dev
    arch = run_architecture(folder)
    hp = D.module(build_module("hyperprior", arch, frozen=False, conditioned=conditioned))
    modules = {"hyperprior": hp}
    if args.context:
        modules["context"] = D.module(build_module("context", arch, frozen=False))
    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr or 1e-3)
    run = Run(folder, 2 if conditioned else 3, modules, opt)
    run.extra["schedule_version"] = schedule.SCHEDULE_VERSION     # the q → γ ramp it learns rates for
    run.extra["architecture"] = arch.to_record()
    px = arch.factor ** 2                                          # pixels per latent element
    gen = torch.Generator().manual_seed(dist.seed_offset(run.step + 21))
    rng = np.random.default_rng(dist.seed_offset(run.step + 21))
    L = schedule.DEFAULT_LEVELS
    h_a, h_s = compiled(args, hp.analysis), compiled(args, hp.synthesis)

    def step():
        y = ys[torch.randint(len(ys), (args.batch,), generator=gen)]
        n, c, h, w = y.shape
        level, d, g = random_level_tables(n, h, w, rng, gen)
        cond = D(torch.cat([schedule.t_of_gamma(g), level.float() / (L - 1)], dim=1))
        u_y = torch.rand(y.shape, generator=gen) - 0.5
        y, d = D(y), D(d)
        with D.autocast():
            z = h_a(y, cond).float()
        z_tilde = z + D(torch.rand(z.shape, generator=gen) - 0.5)
        with D.autocast():
            mu, s = h_s(z_tilde, cond)
        mu, s = mu.float(), s.float()                                     # rates in float32
        y_tilde = y / d + D(u_y)            # universal quantization: k − u = y/Δ + U exactly in law (Δ units)
        if args.context:                    # ... and the dequantized latent the decoder has is Δ·(k − u)
            with D.autocast():
                mu, s = modules["context"](d * y_tilde, mu, s, cond)
            mu, s = mu.float(), s.float()
        bits_y = GaussianConditional.likelihood(y_tilde, mu, s, d).sum((1, 2, 3))
        bits_z = FactorizedPrior.likelihood(z_tilde, hp.z_log_scale).sum((1, 2, 3))
        bpp = (bits_y + bits_z).mean() / (h * w * px)                     # bits per pixel
        loss = bpp if args.rate_loss == "bpp" else torch.log2(bits_y + bits_z).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(params)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return {"bpp": bpp.item(), "bpp_z": bits_z.mean().item() / (h * w * px),
                "log2_bits": torch.log2(bits_y + bits_z).mean().item()}

    _loop(run, step, args.minutes, args.ckpt_every, opt=opt, lr=args.lr or 1e-3, max_steps=args.steps)


def stage2q(args, folder):
    """Integer entropy networks (rac_video.entropy.intnet): quantization-aware fine-tuning of the
    run's float h_s and context (stage 2) into the integer layers they freeze into, with straight-through
    rounding; h_a, the ẑ prior and the autoencoder stay as they are (the encoder's side). The rate of
    y under the integer model's (μ, s) is the loss (the ẑ rate does not change). Writes RUN/stage2q.pt;
    ``--export`` adds the frozen integer networks to the model."""
    from ..entropy import intnet

    torch.manual_seed(5)
    ys = cached_latents(args, folder)
    D = args.dev
    arch = run_architecture(folder)
    hp, ctx, _ = frozen_entropy_model(folder / "stage2.pt", ys.shape[1], arch)
    qh, qc = intnet.QHyperSynthesis(hp), (intnet.QContext(ctx) if ctx is not None else None)
    modules = {"qhyper": qh, **({"qcontext": qc} if qc is not None else {})}
    for m in modules.values():
        m.requires_grad_(True).train()
    hp = D.module(hp)
    L = schedule.DEFAULT_LEVELS
    gen = torch.Generator().manual_seed(dist.seed_offset(25))
    rng = np.random.default_rng(dist.seed_offset(25))

    def batch():
        y = ys[torch.randint(len(ys), (args.batch,), generator=gen)]
        n, c, h, w = y.shape
        level, d, g = random_level_tables(n, h, w, rng, gen)
        cond = torch.cat([schedule.t_of_gamma(g), level.float() / (L - 1)], dim=1)
        cond_int = torch.round(torch.cat([schedule.t_of_gamma(g).clamp(0, 1) * intnet.A_MAX,
                                          level.float() * intnet.A_MAX / (L - 1)], dim=1))
        y, d, cond, cond_int = D(y), D(d), D(cond), D(cond_int)
        with torch.no_grad():
            z_hat = torch.round(hp.analysis(y, cond))
        y_tilde = y / d + D(torch.rand(y.shape, generator=gen) - 0.5)
        y16 = (d * y_tilde * intnet.ANCHOR_SCALE).round().clamp(-intnet.A_MAX, intnet.A_MAX)
        return y_tilde, d, z_hat, cond_int, y16

    def rate(y_tilde, d, z_hat, cond_int, y16):
        mu, lam = qh(z_hat, cond_int)
        if qc is not None:
            anchor = anchor_mask(*y_tilde.shape[-2:], y_tilde.device)
            mu, lam = qc(y16, mu, lam, cond_int, anchor)
        mu, s = mu * 2.0 ** -intnet.MU_BITS, torch.exp(lam / 256.0)
        return GaussianConditional.likelihood(y_tilde, mu, s, d).sum((1, 2, 3))

    params = [p for m in modules.values() for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr or 5e-5)
    run = Run(folder, "2q", modules, opt)      # resumes weights, calibrated ranges and Adam
    if run.step == 0:                          # calibrate the activation ranges on one batch
        with torch.no_grad():
            y_tilde, d, z_hat, cond_int, y16 = batch()
            qh.calibrate(z_hat, cond_int)
            if qc is not None:
                mu, lam = qh(z_hat, cond_int)
                qc.calibrate(y16, mu, lam, cond_int, anchor_mask(*y_tilde.shape[-2:], y_tilde.device))
    run.extra["schedule_version"] = schedule.SCHEDULE_VERSION

    def step():
        bits = rate(*batch())
        h, w = bits.new_tensor(ys.shape[2]), bits.new_tensor(ys.shape[3])
        bpp = bits.mean() / (h * w * arch.factor ** 2)
        loss = bpp if args.rate_loss == "bpp" else torch.log2(bits).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(params)
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return {"bpp_y": bpp.item(), "log2_bits_y": torch.log2(bits).mean().item()}

    _loop(run, step, args.minutes, args.ckpt_every, opt=opt, lr=args.lr or 5e-5, max_steps=args.steps)


def stage4(args, folder):
    """Decoder fine-tune: g_s learns to reconstruct from what the decoder actually has, the
    dequantized latent after K denoising steps, at random qualities and importance maps. g_a, the
    denoiser and the hyperprior stay frozen, so the bitstream (levels, Δ, symbols) is unchanged."""
    torch.manual_seed(4)
    rng = np.random.default_rng(dist.seed_offset(args.seed + 4))
    imgs = load_images(args.data, args.data_limit)
    D = args.dev
    g_a, g_s = frozen_autoencoder(folder)
    den = D.module(frozen_denoiser(folder / "stage1.pt", g_a.scale.shape[1], run_architecture(folder)))
    g_a = D.module(g_a, True)
    g_s = D.module(g_s.train().requires_grad_(True), True)
    opt = torch.optim.Adam(g_s.parameters(), lr=args.lr or 1e-4)
    run = Run(folder, 4, {"g_s": g_s}, opt)
    run.extra["schedule_version"] = schedule.SCHEDULE_VERSION
    gen = torch.Generator().manual_seed(dist.seed_offset(run.step + 41))

    def step():
        x = D(random_crops(imgs, args.batch, rng, args.crop), True)
        with torch.no_grad():                                 # float32: the decoder's own latents
            y = analysis(g_a, x, rng).contiguous()
            n, _, h, w = y.shape
            _, d, g = random_level_tables(n, h, w, rng, gen)
            d, g, u = D(d), D(g), D(torch.rand(y.shape, generator=gen) - 0.5)
            y_hat = d * (universal_quantize(y, d, u) - u)         # universal quantization, as the codec
            steps = int(rng.choice(args.finetune_steps))
            y0 = denoise(den, y_hat, g, steps)
        with D.autocast():
            x_hat = g_s(D(y0, True))
        loss, out = reconstruction_loss(x_hat.float(), x, args.msssim_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        dist.average_gradients(g_s.parameters())
        torch.nn.utils.clip_grad_norm_(g_s.parameters(), 1.0)
        opt.step()
        return out

    _loop(run, step, args.minutes, args.ckpt_every, opt=opt, lr=args.lr or 1e-4, max_steps=args.steps)


def seed_run(folder: Path, model: str, restart: bool = False) -> list[str]:
    """Start a run folder from shipped weights: stage0/1/2 checkpoints (no optimizer state) and the
    final log line of each stage from the model's record, so later stages and export build on it.
    The step / time counters continue the model's (``--minutes`` and ``--steps`` are totals), or
    start at 0 with ``restart`` (a fine-tune with its own lr schedule)."""
    from .weights import architecture, load_state, training_stages

    state, record = load_state(model)
    arch = architecture(record, state).to_record()
    stages = training_stages(model)
    written = []
    for stage, keys in ((0, ("g_a", "g_s")), (1, ("denoiser",)), (2, ("hyperprior",))):
        path = folder / f"stage{stage}.pt"
        if path.exists():
            continue
        info = stages.get(f"stage{stage}", {})
        if restart:
            info = {"final": info.get("final", {})}
        if stage == 2 and "context" in state:          # a model with the checkerboard context
            keys = keys + ("context",)
        torch.save({"modules": {k: state[k] for k in keys}, "opt": None, "step": info.get("steps", 0),
                    "extra": {"seconds": info.get("seconds", 0), "seeded_from": model, "architecture": arch,
                              "schedule_version": int(record.get("schedule_version", 1))}}, path)
        with open(folder / f"stage{stage}.jsonl", "w") as f:
            f.write(json.dumps({"step": info.get("steps", 0), **info.get("final", {})}) + "\n")
        written.append(path.name)
    return written


def main(argv=None):
    raw = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--stage=temporal" or (a == "temporal" and i and raw[i - 1] == "--stage") for i, a in enumerate(raw)):
        from .inter_train import main as temporal_main      # P-frames' temporal prior (rac_video.codec.inter)
        return temporal_main(raw)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=("0", "1", "1u", "2", "2q", "3", "4", "realism"),
                   help="1u = uniform-t denoiser (global-clock ablation), 3 = unconditioned hyperprior "
                        "(ablation), 4 = decoder fine-tune on decoded latents, 2q = integer entropy networks "
                        "(quantization-aware fine-tune of stage 2)")
    p.add_argument("--run", type=Path, default=Path("runs/default"))
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--data-limit", type=int, default=None, metavar="N",
                   help="read only the first N images of --data (quick runs)")
    p.add_argument("--minutes", type=float, default=20)
    p.add_argument("--steps", type=int, default=None, help="stop at this many steps (the lr schedule follows "
                   "steps instead of minutes); --minutes still caps the wall time")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=64, help="stage-0 crop size (stages 1-2 cache 128x128 crops)")
    p.add_argument("--arch", default=None, metavar="NAME|FILE.json",
                   help="stage 0 of a new run: the model's module sizes, a name in "
                        f"rac_video.codec.weights.ARCHITECTURES ({', '.join(sorted(ARCHITECTURES))}; default "
                        "rac-tiny) or a JSON architecture record; later stages and resumes take the run's own")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--msssim-weight", type=float, default=0.0,
                   help="stages 0, 4: loss = MSE + w·(1 − MS-SSIM) (0: MSE only; needs --crop > 160)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when available)")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast for the forward passes (default: on for CUDA, off for CPU)")
    p.add_argument("--ckpt-every", type=float, default=120, help="seconds between checkpoints")
    p.add_argument("--compile", action="store_true", help="stages 0-2: torch.compile the forward passes")
    p.add_argument("--cache-crops", type=int, default=6000, help="stages 1-3: 128x128 crops whose latents are cached")
    p.add_argument("--context", action="store_true",
                   help="stage 2: add the checkerboard context model (rac_video.codec.context), trained jointly")
    p.add_argument("--rate-loss", choices=("bpp", "log"), default="bpp",
                   help="stage 2: minimise mean bpp, or the mean log-rate over samples (every quality alike)")
    p.add_argument("--snr-clip", type=float, default=0.0,
                   help="stage 1: weigh the ε-MSE by min(SNR, clip)/SNR (min-SNR weighting; 0: plain ε-MSE)")
    p.add_argument("--finetune-steps", default="0,2,2,4", help="stage 4: denoising steps K, drawn per batch")
    p.add_argument("--realism-base", default="rac-tiny-v6", metavar="MODEL",
                   help="stage realism: the shipped model whose decoder the realism synthesis learns from")
    p.add_argument("--realism-adv", type=float, default=0.05, help="stage realism: adversarial loss weight")
    p.add_argument("--realism-fm", type=float, default=1.0, help="stage realism: feature-matching loss weight")
    p.add_argument("--realism-mse", type=float, default=5.0, help="stage realism: W-weighted MSE weight")
    p.add_argument("--realism-lp", type=float, default=20.0, help="stage realism: low-pass (8x8 mean) colour MSE weight")
    p.add_argument("--realism-chroma", type=float, default=20.0,
                   help="stage realism: W-weighted full-resolution chroma MSE weight")
    p.add_argument("--init-from", metavar="MODEL", help="seed the run's missing stages 0-2 from shipped weights")
    p.add_argument("--init-restart", action="store_true", help="with --init-from: step and time counters from 0")
    p.add_argument("--export", type=Path, help="write the shipped weights file + record to this folder")
    p.add_argument("--name", default=None, help="model name for --export (default: the default model)")
    p.add_argument("--posterior-fusion", type=float, default=0.0, metavar="C",
                   help="--export: the decoder's posterior fusion constant (rac_video.codec.posterior; 0: off)")
    p.add_argument("--rdoq", type=float, default=0.0, metavar="ALPHA",
                   help="--export: the encoder's default RDOQ strength (rac_video.codec.rdoq; 0: off)")
    p.add_argument("--base", default=None, metavar="MODEL",
                   help="--export: store only the modules that differ from this installed model (the record "
                        "names it and pins its sha256)")
    p.add_argument("--half", action="store_true",
                   help="--export: store the float modules as float16 (weights format 2; half the bytes)")
    p.add_argument("--ddim-steps", type=int, default=None, metavar="K",
                   help="--export: the DDIM steps the encoder writes by default (unset: rac_video's default)")
    args = p.parse_args(argv)
    if args.context and args.stage != "2":
        raise SystemExit("--context is a stage-2 option (the stage-3 ablation is the plain unconditioned hyperprior)")
    if args.msssim_weight and args.stage in ("0", "4") and args.crop <= 160:
        raise SystemExit(f"--msssim-weight needs --crop > 160 (5-scale MS-SSIM), got --crop {args.crop}")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.finetune_steps = [int(k) for k in str(args.finetune_steps).split(",")]
    args.device = dist.setup(args.device)         # torchrun (WORLD_SIZE > 1): process group, device per rank
    try:
        return _main(p, args)
    finally:
        dist.teardown()


def _stage_realism(args, folder):
    from .train_realism import stage_realism

    stage_realism(args, folder)


def _main(p, args):
    args.dev = Device(args.device, args.bf16)
    args.run.mkdir(parents=True, exist_ok=True)
    if args.init_from and dist.is_main():
        print("seeded", seed_run(args.run, args.init_from, args.init_restart) or "nothing (stages exist)")
    dist.barrier()
    if args.ddim_steps is not None and not 0 <= args.ddim_steps <= 64:
        p.error("--ddim-steps must be in 0..64")
    if args.export and args.stage == "realism":          # ships g_s_real on top of the run's base model
        from .train_realism import export_realism

        print(export_realism(args.run, args.export, args.name or "rac-tiny-v7", half=args.half) if dist.is_main() else "")
        return 0
    if args.export:
        if not dist.is_main():
            return 0
        from .posterior import check_fusion
        from .rdoq import check_alpha
        from .weights import DEFAULT_MODEL, export
        print(export(args.run, args.export, args.name or DEFAULT_MODEL,
                     posterior_fusion=check_fusion(args.posterior_fusion), rdoq=check_alpha(args.rdoq),
                     steps=args.ddim_steps, base=args.base, half=args.half))
        return 0
    if args.stage is None:
        return 0 if args.init_from else p.error("--stage, --init-from or --export is required")
    stages = {"0": stage0, "1": stage1, "1u": lambda a, f: stage1(a, f, uniform_t=True), "2": stage2, "2q": stage2q,
              "3": lambda a, f: stage2(a, f, conditioned=False), "4": stage4, "realism": _stage_realism}
    stages[args.stage](args, args.run)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
