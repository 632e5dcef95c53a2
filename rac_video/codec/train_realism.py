"""Training stage "realism": the realism synthesis transform g_s_real (docs/design.md §3.7, §3.5.5).

    rac-video train --init-from rac-tiny-v6 --stage realism --run runs/realism --minutes 60

g_s_real starts from the model's g_s and learns to turn the *sampled* latent of a realism decode
(rac_video.codec.realism: stochastic DDIM with η = w, a posterior draw moved in by w) into pixels a
patch discriminator cannot tell from photographs, HiFiC / MS-ILLM style. Everything else — g_a, the
hyperprior, the denoiser, g_s — is the shipped model's and stays frozen, so the bitstream is unchanged and
the fidelity decode (ρ = 0) is bit-for-bit the same. Per batch of random crops, importance maps,
qualities and ρ ∈ [½, 1]:

* the decoder's output is exactly what ``Codec.reconstruct`` computes, x = x_fid + W·(g_s_real(y_real) − x_fid)
  (W the realism weight upsampled to pixels), so the loss sees the blend the decoder shows;
* the discriminator D(x, level map) is a small spectrally normalised patch net conditioned on the
  importance levels (HiFiC conditions on the latent; here the map says where generation is allowed),
  trained with the hinge loss;
* the generator loss is λ_adv·(W-weighted −D) + λ_fm·feature matching (D's features, the perceptual
  proxy that needs no download) + λ_mse·W-weighted MSE (keeps the sample near the scene) +
  λ_lp·MSE of 8×-average-pooled colour (the low frequencies: no colour shift) + λ_chroma·W-weighted MSE
  of the colour-difference channels at full resolution (texture belongs in luminance: without it the
  first 850 steps learned to amplify the posterior draw's chroma speckle).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import schedule
from . import distributed as dist
from .denoiser import denoise
from .posterior import fuse_posterior, sample_posterior
from .realism import MIN_STEPS, realism_weight

__all__ = ["PatchDiscriminator", "stage_realism"]


class PatchDiscriminator(nn.Module):
    """(RGB in [0, 1], level map / (L−1) at pixel resolution) → per-patch logits at 1/8 resolution,
    and the intermediate features (for feature matching)."""

    def __init__(self, width: int = 48):
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        self.blocks = nn.ModuleList([
            nn.Sequential(sn(nn.Conv2d(4, width, 4, 2, 1)), nn.LeakyReLU(0.2)),
            nn.Sequential(sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2)),
            nn.Sequential(sn(nn.Conv2d(2 * width, 4 * width, 4, 2, 1)), nn.LeakyReLU(0.2)),
            nn.Sequential(sn(nn.Conv2d(4 * width, 4 * width, 3, 1, 1)), nn.LeakyReLU(0.2))])
        self.head = sn(nn.Conv2d(4 * width, 1, 3, 1, 1))

    def forward(self, x, level_px):
        h = torch.cat([x * 2 - 1, level_px], dim=1)
        feats = []
        for b in self.blocks:
            h = b(h)
            feats.append(h)
        return self.head(h), feats


def _chroma(x):
    """The two colour-difference channels (BT.601 Cb, Cr without offset) of RGB in [0, 1]."""
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.cat([b - y, r - y], dim=1)


def _inputs(codec, x, rng, gen):
    """One batch through the frozen encoder and the decoder's realism path: (x_fid, y_real, w, level)."""
    from .train import random_level_tables

    L = codec.levels
    n, h, w_ = x.shape[0], x.shape[-2] // codec.factor, x.shape[-1] // codec.factor
    level, d, g = random_level_tables(n, h, w_, rng, gen)
    y = codec.analysis(x, level)
    cond = torch.cat([schedule.t_of_gamma(g), level.float() / (L - 1)], dim=1)
    hp = codec.hyper
    z_hat = torch.round(hp.analysis(y, cond))
    mu, s = hp.synthesis(z_hat, cond)
    u = torch.rand(y.shape, generator=gen) - 0.5
    k = torch.floor(y / d + u + 0.5)
    y_hat = d * (k - u)
    y0 = denoise(codec.denoiser, y_hat, g, max(codec.steps, 1))
    y0 = fuse_posterior(y0, y_hat, mu, s, d, codec.fusion)
    rho = torch.from_numpy(rng.uniform(0.5, 1.0, (n, 1, 1, 1))).float()
    w = realism_weight(level, L, 1.0) * rho
    y_den = denoise(codec.denoiser, y_hat, g, MIN_STEPS, eta=w, generator=gen)
    y_f = fuse_posterior(y_den, y_hat, mu, s, d, codec.fusion)
    y_real = sample_posterior(y_f, y_den, y_hat, mu, s, d, codec.fusion, w, gen)
    return codec.g_s(y0), y_real, w, level


def stage_realism(args, folder):
    from .model import Codec
    from .train import Run, _loop, load_images, random_crops
    from .weights import build_module

    torch.manual_seed(5)
    rng = np.random.default_rng(dist.seed_offset(args.seed + 5))
    base = args.realism_base
    codec = Codec(base)
    imgs = load_images(args.data)
    g_real = build_module("g_s", codec.architecture, codec.g_s.state_dict(), frozen=False)
    g_real.train().requires_grad_(True)
    disc = PatchDiscriminator()
    opt_g = torch.optim.Adam(g_real.parameters(), lr=args.lr or 5e-5, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(disc.parameters(), lr=(args.lr or 5e-5) * 2, betas=(0.5, 0.9))
    run = Run(folder, "realism", {"g_s_real": g_real, "disc": disc}, opt_g)
    if run.extra.get("opt_d"):
        opt_d.load_state_dict(run.extra["opt_d"])
    run.extra["base"] = {"name": base, "sha256": codec.weights_hash}
    run.extra["schedule_version"] = codec.schedule_version
    gen = torch.Generator().manual_seed(dist.seed_offset(run.step + 51))
    lam = {"adv": args.realism_adv, "fm": args.realism_fm, "mse": args.realism_mse, "lp": args.realism_lp,
           "chroma": args.realism_chroma}
    L = codec.levels

    def step():
        x = random_crops(imgs, args.batch, rng, args.crop)
        with torch.no_grad():
            x_fid, y_real, w, level = _inputs(codec, x, rng, gen)
        W = F.interpolate(w, size=x.shape[-2:], mode="bilinear", align_corners=False)
        lvl = F.interpolate(level.float() / (L - 1), size=x.shape[-2:], mode="nearest")
        x_out = x_fid + W * (g_real(y_real) - x_fid)
        # discriminator: hinge loss, real vs the decoder's output
        d_real, _ = disc(x, lvl)
        d_fake, _ = disc(x_out.detach().clamp(0, 1), lvl)
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        # generator
        d_fake, f_fake = disc(x_out.clamp(0, 1), lvl)
        with torch.no_grad():
            _, f_real = disc(x, lvl)
        Wd = F.adaptive_avg_pool2d(W, d_fake.shape[-2:])
        adv = -(Wd * d_fake).sum() / Wd.sum().clamp_min(1e-6)
        fm = sum(F.l1_loss(a, b) for a, b in zip(f_fake, f_real)) / len(f_fake)
        mse = (W * (x_out - x) ** 2).mean()
        lp = F.mse_loss(F.avg_pool2d(x_out, 8), F.avg_pool2d(x, 8))
        ch = (W * (_chroma(x_out) - _chroma(x)) ** 2).mean()
        loss = lam["adv"] * adv + lam["fm"] * fm + lam["mse"] * mse + lam["lp"] * lp + lam["chroma"] * ch
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(g_real.parameters(), 1.0)
        opt_g.step()
        run.extra["opt_d"] = opt_d.state_dict()
        return {"loss_d": loss_d.item(), "adv": adv.item(), "fm": fm.item(), "mse_w": mse.item(), "lp": lp.item(),
                "chroma_w": ch.item(),
                "psnr_out": float(-10 * np.log10(max(F.mse_loss(x_out.clamp(0, 1), x).item(), 1e-10)))}

    _loop(run, step, args.minutes, args.ckpt_every, opt=opt_g, lr=args.lr or 5e-5, max_steps=args.steps)


def export_realism(run, out_dir, name: str, half: bool = False) -> str:
    """Ship the realism run's g_s_real as model ``name``: a record that builds on the run's base model
    (every base module inherited, pinned by hash; only g_s_real stored) and keeps the base's decoding keys.
    ``half``: weights format 2 (g_s_real stored as float16, widened at load; the base stays as it is)."""
    import json
    import time
    from pathlib import Path

    from .weights import HALF_FORMAT, half_state, load_state, save_model

    run = Path(run)
    ck = torch.load(run / "stagerealism.pt", map_location="cpu", weights_only=False)
    base = ck["extra"]["base"]
    base_state, base_record = load_state(base["name"])
    if base_record["sha256"] != base["sha256"]:
        raise ValueError(f"{run} was trained on {base['name']} {base['sha256'][:16]}…, the installed one differs")
    state = {"g_s_real": {n: t.contiguous() for n, t in ck["modules"]["g_s_real"].items()}}
    if half:
        state = half_state(state)
    log = [json.loads(line) for line in open(run / "stagerealism.jsonl")]
    keep = ("schedule_version", "device_independent", "posterior_fusion", "rdoq", "steps", "architecture", "inter")
    record = save_model(
        state, out_dir, name, parameters=sum(t.numel() for t in state["g_s_real"].values()),
        **({"weights_format": HALF_FORMAT} if half else {}),
        **{k: base_record[k] for k in keep if k in base_record},
        base={"name": base["name"], "sha256": base["sha256"], "modules": sorted(base_state)},
        exported=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        stages={"stagerealism": {"steps": ck["step"], "seconds": round(ck["extra"].get("seconds", 0)),
                                 "final": {k: v for k, v in log[-1].items() if k not in ("step", "time")}}},
        data="../shared/data/train (CID22-512 250 PNG + BSDS500 500 JPEG), random crops + flips",
        commands=[f"python -m rac_video.codec.train --stage realism --realism-base {base['name']} --run {run} "
                  "--minutes M --batch 4 --crop 256",
                  f"python -m rac_video.codec.train --stage realism --run {run} --export {out_dir} --name {name}"
                  + (" --half" if half else "")])
    return json.dumps(record, indent=2)
