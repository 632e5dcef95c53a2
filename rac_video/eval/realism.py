"""Realism metrics that need no downloaded weights, per region (ROI / background) of an importance map.

* ``swd`` — sliced Wasserstein distance between the Laplacian-pyramid patch distributions of source and
  reconstruction (Karras et al. 2018, "Progressive growing of GANs", their ``sliced_wasserstein.py``):
  a Laplacian pyramid per frame (5-tap binomial pyrDown / pyrUp as in OpenCV, mirrored borders) down to
  a coarsest level of at least ``MIN_LEVEL_SIDE`` pixels, 7×7×3 neighbourhoods sampled per level, each
  channel normalised, then the mean over ``SWD_REPEATS`` × ``SWD_DIRS`` random unit directions of the
  1-D Wasserstein-1 distance between the sorted projections. Two deliberate differences from Karras:
  the neighbourhoods of source and reconstruction are taken at the *same* sampled centres (a region is
  compared with itself), and both sets are normalised with the *source's* per-channel mean and standard
  deviation (Karras normalises each set by its own), so that lost contrast (blur) and a colour shift of
  the coarsest level count instead of being normalised away. Being a distance between distributions,
  it does not care where a patch is: texture that is plausible but not the source's pixels scores close
  to the source, a blur or a flat fill does not. Reported per level and as the mean over levels
  (0 = identical distributions; not scaled by 10³ as Karras prints it).
* ``hf_ratio`` — high-frequency energy of the reconstruction over the source's: the summed squares of
  the finest ``HF_LEVELS`` Laplacian levels in the region (1 = as much detail, < 1 blur, > 1 noise or
  ringing).
* ``block colour error`` — per 64×64 block (edge blocks partial), the largest over R, G, B of the
  absolute difference of the block's mean colour, in 8-bit levels; reported as the max and the mean
  over the blocks of the region.

Regions: a pyramid neighbourhood belongs to the ROI when the importance at its centre (the map
area-averaged down to that level) is ≥ ``threshold``, else to the background; a 64×64 block by its mean
importance. Sampling and directions come from fixed seeds: the same inputs give the same numbers.

Entry points: ``region_report(src, rec, importance, threshold)`` (one image or a (T,H,W,3) clip →
{"roi": {...}, "bg": {...}, "all": {...}}) and ``flat_metrics`` (the same as flat ``<metric>_<region>``
keys, as the eval harness stores them).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

NHOOD = 7               # neighbourhood side (Karras: 7)
MIN_LEVEL_SIDE = 16     # the coarsest level keeps at least this many pixels on its short side (Karras: 16)
MAX_LEVELS = 6
SWD_REPEATS = 4         # Karras: dir_repeats = 4
SWD_DIRS = 128          # Karras: dirs_per_repeat = 128
MAX_PATCHES = 4096      # neighbourhoods per level and region (over all frames)
MIN_PATCHES = 32        # a level with fewer neighbourhoods in a region is left out of that region's SWD
STD_FLOOR = 1.0         # 8-bit levels: a flat source region does not blow the normalisation up
HF_LEVELS = 2
BLOCK = 64
SEED = 0
REGIONS = ("roi", "bg", "all")

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16.0


class RealismError(ValueError):
    """Bad input to a realism metric (shapes, dtypes, threshold)."""


# ---------------------------------------------------------------------------------------------- inputs
def _stack(x, name):
    a = np.asarray(x)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3 or a.dtype != np.uint8:
        raise RealismError(f"{name}: expected uint8 (H,W,3) or (T,H,W,3), got {a.dtype} {a.shape}")
    if a.shape[1] < 2 * NHOOD or a.shape[2] < 2 * NHOOD:
        raise RealismError(f"{name}: frames of {a.shape[2]}x{a.shape[1]} are too small (at least {2 * NHOOD} px a side)")
    return a


def _inputs(src, rec, importance, threshold):
    s, r = _stack(src, "src"), _stack(rec, "rec")
    if s.shape != r.shape:
        raise RealismError(f"src and rec differ in shape: {s.shape} vs {r.shape}")
    T, H, W, _ = s.shape
    if not 0.0 < float(threshold) <= 1.0:
        raise RealismError(f"importance threshold must be in (0, 1], got {threshold!r}")
    if importance is None:
        imp = np.ones((T, H, W), np.float32)
    else:
        imp = np.asarray(importance, dtype=np.float32)
        if imp.ndim == 2 and imp.shape == (H, W):
            imp = np.broadcast_to(imp, (T, H, W))
        if imp.shape != (T, H, W):
            raise RealismError(f"importance of shape {imp.shape} does not match frames {(T, H, W)}")
        if not np.all(np.isfinite(imp)):
            raise RealismError("importance map has non-finite values")
    return s, r, imp


# ---------------------------------------------------------------------------------------------- pyramid
def _conv5(x, kernel):
    """Separable 5-tap filter with mirrored borders (reflect-101, as cv2 and scipy 'mirror')."""
    c = x.shape[1]
    k = kernel.to(x.dtype)
    x = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, 5).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(x, k.view(1, 1, 5, 1).repeat(c, 1, 1, 1), groups=c)


def _pyr_down(x):
    return _conv5(x, _BINOMIAL)[:, :, ::2, ::2]


def _pyr_up(x, hw):
    n, c, h, w = x.shape
    up = torch.zeros((n, c, 2 * h, 2 * w), dtype=x.dtype)
    up[:, :, ::2, ::2] = x
    return _conv5(up, _BINOMIAL * 2.0)[:, :, :hw[0], :hw[1]]


def n_levels(h: int, w: int) -> int:
    """Pyramid levels for an h×w frame: halve while the short side stays ≥ MIN_LEVEL_SIDE (at most MAX_LEVELS)."""
    n, side = 1, min(h, w)
    while n < MAX_LEVELS and (side + 1) // 2 >= MIN_LEVEL_SIDE:
        side = (side + 1) // 2
        n += 1
    return n


def laplacian_pyramid(frames, levels: int | None = None) -> list:
    """uint8 (T,H,W,3) (or float (T,3,H,W) tensor) → list of float64 (T,3,h_l,w_l) tensors: band-pass
    levels finest first, the last one the low-pass residual (Karras' generate_laplacian_pyramid)."""
    if isinstance(frames, torch.Tensor):
        x = frames.to(torch.float64)
    else:
        x = torch.tensor(np.asarray(frames)).permute(0, 3, 1, 2).to(torch.float64)
    if levels is None:
        levels = n_levels(x.shape[2], x.shape[3])
    pyr = [x]
    for _ in range(1, levels):
        pyr.append(_pyr_down(pyr[-1]))
        pyr[-2] = pyr[-2] - _pyr_up(pyr[-1], pyr[-2].shape[2:])
    return pyr


def _importance_pyramid(imp, levels):
    """(T,H,W) → list of (T,h_l,w_l) maps on the pyramid's grids (2×2 area means, edges replicated)."""
    m = torch.tensor(np.asarray(imp, dtype=np.float32))[:, None]
    out = [m[:, 0]]
    for _ in range(1, levels):
        h, w = m.shape[2:]
        m = F.pad(m, (0, w % 2, 0, h % 2), mode="replicate")
        m = F.avg_pool2d(m, 2)
        out.append(m[:, 0])
    return out


# ---------------------------------------------------------------------------------------------- SWD
def _rng(*key):
    return np.random.default_rng([SEED, *key])


def _sample_centres(mask, level, region_id, max_patches):
    """Indices (t, y, x) of up to max_patches neighbourhood centres where mask is set (fixed seed)."""
    idx = np.flatnonzero(mask.numpy().ravel())
    if len(idx) > max_patches:
        idx = np.sort(_rng(1, level, region_id).choice(idx, size=max_patches, replace=False))
    T, h, w = mask.shape
    t, rem = np.divmod(idx, h * w)
    y, x = np.divmod(rem, w)
    return t, y, x


def _neighbourhoods(level, t, y, x):
    """(N, 3·7·7) neighbourhoods of a (T,3,h,w) level at the given centres (mirrored borders)."""
    r = NHOOD // 2
    p = F.pad(level, (r, r, r, r), mode="reflect") if min(level.shape[2:]) > r else \
        F.pad(level, (r, r, r, r), mode="replicate")
    d = np.arange(NHOOD)
    tt = torch.from_numpy(t)[:, None, None, None]
    cc = torch.arange(3)[None, :, None, None]
    yy = torch.from_numpy(y[:, None] + d[None])[:, None, :, None]
    xx = torch.from_numpy(x[:, None] + d[None])[:, None, None, :]
    return p[tt, cc, yy, xx].reshape(len(t), -1)


def _directions(dim):
    g = _rng(2, dim)
    dirs = g.standard_normal((SWD_REPEATS, dim, SWD_DIRS))
    dirs /= np.sqrt((dirs ** 2).sum(axis=1, keepdims=True))
    return dirs.astype(np.float32)


def sliced_wasserstein(a, b) -> float:
    """Karras' sliced Wasserstein distance between two equal-sized descriptor sets (N, D): the mean over
    SWD_REPEATS × SWD_DIRS fixed random unit directions of the mean |sorted(a·d) − sorted(b·d)|."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    if a.ndim != 2 or a.shape != b.shape:
        raise RealismError(f"descriptor sets must be equal (N, D) arrays, got {a.shape} and {b.shape}")
    total = 0.0
    for dirs in _directions(a.shape[1]):   # numpy's sort: SIMD, far faster than torch.sort on CPU
        pa = np.sort((a @ dirs).T, axis=-1)
        pb = np.sort((b @ dirs).T, axis=-1)
        total += float(np.abs(pa - pb, dtype=np.float64).mean())
    return total / SWD_REPEATS


def _normalise(da, db):
    """Both descriptor sets with the source's (da) per-channel mean and std (over neighbourhoods and taps)."""
    n = da.shape[0]
    va = da.view(n, 3, -1)
    mean = va.mean(dim=(0, 2), keepdim=True)
    std = va.std(dim=(0, 2), keepdim=True).clamp_min(STD_FLOOR)
    return (((va - mean) / std).reshape(n, -1).numpy(),
            ((db.view(n, 3, -1) - mean) / std).reshape(n, -1).numpy())


# ---------------------------------------------------------------------------------------------- blocks
def block_colour_errors(src, rec, block: int = BLOCK):
    """Per block of ``block``×``block`` pixels (edge blocks partial): the largest over R, G, B of
    |mean(rec) − mean(src)| in 8-bit levels, (T, nby, nbx), and each block's pixel count (T, nby, nbx)."""
    s = torch.tensor(np.asarray(src)).permute(0, 3, 1, 2).to(torch.float64)
    r = torch.tensor(np.asarray(rec)).permute(0, 3, 1, 2).to(torch.float64)
    ones = torch.ones_like(s[:, :1])
    kw = {"kernel_size": block, "stride": block, "ceil_mode": True, "divisor_override": 1}
    cnt = F.avg_pool2d(ones, **kw)
    d = (F.avg_pool2d(r, **kw) - F.avg_pool2d(s, **kw)) / cnt
    return d.abs().amax(dim=1).numpy(), cnt[:, 0].numpy()


def _block_importance(imp, block=BLOCK):
    m = torch.tensor(np.asarray(imp, dtype=np.float32))[:, None].to(torch.float64)
    kw = {"kernel_size": block, "stride": block, "ceil_mode": True, "divisor_override": 1}
    return (F.avg_pool2d(m, **kw) / F.avg_pool2d(torch.ones_like(m), **kw))[:, 0].numpy()


# ---------------------------------------------------------------------------------------------- report
def region_report(src, rec, importance=None, threshold: float = 0.5, *, max_patches: int = MAX_PATCHES,
                  levels: int | None = None) -> dict:
    """Realism of ``rec`` against ``src`` in the ROI (importance ≥ threshold), the background and the
    whole frame.

    src, rec: uint8 (H,W,3) or (T,H,W,3); importance: (H,W) or (T,H,W) in [0, 1], None = all ROI (the
    background is then empty). Returns ``{"roi": R, "bg": R, "all": R, "levels": L, "threshold": thr}``
    with R = {"swd": mean over levels (None if no level has MIN_PATCHES neighbourhoods there),
    "swd_levels": per level (finest first, None where too few), "patches": neighbourhoods per level,
    "hf_ratio": rec/src energy of the finest HF_LEVELS levels (None where the source has none),
    "block_colour_max", "block_colour_mean": 8-bit levels over the region's 64×64 blocks (None: no block),
    "share": fraction of pixels in the region}."""
    s, r, imp = _inputs(src, rec, importance, threshold)
    thr = float(threshold)
    T, H, W, _ = s.shape
    L = n_levels(H, W) if levels is None else int(levels)
    ims = _importance_pyramid(imp, L)
    masks, centres = {}, {}
    for rid, region in enumerate(REGIONS):
        for lv in range(L):
            m = ims[lv] >= thr
            m = m if region == "roi" else (~m if region == "bg" else torch.ones_like(m))
            masks[region, lv] = m
            centres[region, lv] = _sample_centres(m, lv, rid, max_patches)
    # frame by frame (a long clip's pyramids are never all in memory): descriptors at the sampled centres,
    # high-frequency energies, block colour errors
    desc = {k: ([], []) for k in centres}
    energy = {reg: [0.0, 0.0] for reg in REGIONS}
    berr = []
    for t in range(T):
        ps, pr = laplacian_pyramid(s[t:t + 1], L), laplacian_pyramid(r[t:t + 1], L)
        for (region, lv), (tt, y, x) in centres.items():
            sel = tt == t
            if sel.any():
                z = np.zeros(int(sel.sum()), np.int64)
                desc[region, lv][0].append(_neighbourhoods(ps[lv], z, y[sel], x[sel]))
                desc[region, lv][1].append(_neighbourhoods(pr[lv], z, y[sel], x[sel]))
            if lv < HF_LEVELS and lv < L - 1:  # band-pass levels only (the last one is the low-pass residual)
                mm = masks[region, lv][t][None, None].to(ps[lv].dtype)
                energy[region][0] += float((ps[lv] ** 2 * mm).sum())
                energy[region][1] += float((pr[lv] ** 2 * mm).sum())
        berr.append(block_colour_errors(s[t:t + 1], r[t:t + 1])[0])
    berr = np.concatenate(berr)
    binside = _block_importance(imp) >= thr
    roi_px = imp >= thr
    out = {"levels": L, "threshold": thr}
    for region in REGIONS:
        rep = {"swd_levels": [], "patches": []}
        for lv in range(L):
            n = len(centres[region, lv][0])
            rep["patches"].append(int(n))
            if n < MIN_PATCHES:
                rep["swd_levels"].append(None)
                continue
            da, db = _normalise(torch.cat(desc[region, lv][0]), torch.cat(desc[region, lv][1]))
            rep["swd_levels"].append(sliced_wasserstein(da, db))
        vals = [v for v in rep["swd_levels"] if v is not None]
        rep["swd"] = float(np.mean(vals)) if vals else None
        e_src, e_rec = energy[region]
        rep["hf_ratio"] = e_rec / e_src if e_src > 0 else None
        sel = binside if region == "roi" else (~binside if region == "bg" else np.ones_like(binside))
        be = berr[sel]
        rep["block_colour_max"] = float(be.max()) if be.size else None
        rep["block_colour_mean"] = float(be.mean()) if be.size else None
        px = roi_px if region == "roi" else (~roi_px if region == "bg" else np.ones_like(roi_px))
        rep["share"] = float(px.mean())
        out[region] = rep
    return out


FLAT_KEYS = tuple(f"{k}_{reg}" for k in ("swd", "hf_ratio", "block_colour_max", "block_colour_mean")
                  for reg in REGIONS)


def flat_metrics(report: dict) -> dict:
    """``region_report``'s output as flat keys ``swd_roi``, ``swd_bg``, ``swd_all``, ``hf_ratio_*``,
    ``block_colour_max_*``, ``block_colour_mean_*`` (what the eval harness's summaries carry)."""
    return {f"{k}_{reg}": report[reg][k] for k in ("swd", "hf_ratio", "block_colour_max", "block_colour_mean")
            for reg in REGIONS}
