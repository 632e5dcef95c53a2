"""Per-frame and per-sequence quality metrics for the evaluation harness.

Frames are uint8 RGB numpy arrays (H, W, 3) (or stacks (T, H, W, 3)). All metrics are computed in RGB
on the 0..255 scale:

* ``psnr`` / ``mse`` — optionally weighted by a per-pixel map (a boolean region mask or a float weight);
* ``ms_ssim`` — the standard 5-scale MS-SSIM (11-tap Gaussian window, sigma 1.5, weights of Wang et al.),
  identical to ``pytorch_msssim.ms_ssim`` when unweighted; with a weight map, the SSIM/CS maps of every
  scale are averaged with the map (pooled like the image, then blurred with the SSIM window so that a
  window counts by the share of it that lies in the region);
* ``eccentricity_deg`` / ``foveation_weight`` — visual eccentricity of every pixel from a fixation point
  (display geometry or pixels per degree) and the weight ``e2 / (e2 + e)`` (Geisler & Perry's
  half-resolution eccentricity ``e2 = 2.3°``), used for foveated PSNR / MS-SSIM;
* ``flicker`` — temporal flicker in a region: the frame-difference of the reconstruction vs that of the
  source (RMS of their difference, and the energy ratio);
* ``bpp`` — bits per pixel of a byte count over a number of frames.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN_SIZE = 11
WIN_SIGMA = 1.5
HALF_RES_ECCENTRICITY_DEG = 2.3  # e2 of Geisler & Perry (1998)
PSNR_CAP = 100.0  # dB given to identical frames in sequence means


class MetricError(ValueError):
    """Bad input to a metric (shapes, dtypes, empty regions where one is required)."""


# ---------------------------------------------------------------------------------------------- helpers
def _as_stack(x, name):
    a = np.asarray(x)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise MetricError(f"{name}: expected uint8 (H,W,3) or (T,H,W,3), got shape {a.shape}")
    if a.dtype != np.uint8:
        raise MetricError(f"{name}: expected uint8 frames, got {a.dtype}")
    return a


def _pair(ref, rec):
    r = _as_stack(ref, "ref")
    d = _as_stack(rec, "rec")
    if r.shape != d.shape:
        raise MetricError(f"ref and rec differ in shape: {r.shape} vs {d.shape}")
    return r, d


def _weights(weight, shape_thw):
    """Weight map broadcast to (T,H,W) float64, or None."""
    if weight is None:
        return None
    w = np.asarray(weight)
    if w.dtype == bool:
        w = w.astype(np.float64)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 2 and w.shape == tuple(shape_thw[1:]):
        w = np.broadcast_to(w, shape_thw)
    if w.shape != tuple(shape_thw):
        raise MetricError(f"weight map of shape {w.shape} does not match frames {tuple(shape_thw)}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise MetricError("weight map must be finite and non-negative")
    return w


def bpp(total_bytes: int, n_frames: int, height: int, width: int) -> float:
    """Bits per pixel: every byte of the stream over every pixel of every frame."""
    if n_frames <= 0 or height <= 0 or width <= 0:
        raise MetricError("bpp needs a positive number of frames and a positive frame size")
    return 8.0 * float(total_bytes) / (n_frames * height * width)


# ---------------------------------------------------------------------------------------------- PSNR
def mse(ref, rec, weight=None) -> np.ndarray:
    """Per-frame (weighted) mean squared error over pixels and RGB channels, float64 array (T,).

    A frame whose weights are all zero gives nan."""
    r, d = _pair(ref, rec)
    err = ((r.astype(np.float64) - d.astype(np.float64)) ** 2).mean(-1)  # (T,H,W)
    w = _weights(weight, err.shape)
    if w is None:
        return err.reshape(len(err), -1).mean(1)
    num = (err * w).reshape(len(err), -1).sum(1)
    den = w.reshape(len(err), -1).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def psnr_from_mse(m, peak=255.0):
    m = np.asarray(m, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m > 0, 10.0 * np.log10(peak * peak / np.where(m > 0, m, 1)), np.inf)


def psnr(ref, rec, weight=None, peak=255.0) -> np.ndarray:
    """Per-frame PSNR in dB (inf for identical frames, nan where the weight map is empty)."""
    m = mse(ref, rec, weight)
    out = psnr_from_mse(m, peak)
    return np.where(np.isnan(m), np.nan, out)


# ---------------------------------------------------------------------------------------------- MS-SSIM
def _gauss_1d(dtype):
    c = torch.arange(WIN_SIZE, dtype=torch.float64) - WIN_SIZE // 2
    g = torch.exp(-(c**2) / (2 * WIN_SIGMA**2))
    return (g / g.sum()).to(dtype)


def _blur(x, g):
    """Separable 'valid' Gaussian blur of (N,C,H,W), as pytorch_msssim does (skips too-small dims)."""
    C = x.shape[1]
    k = g.view(1, 1, 1, -1).repeat(C, 1, 1, 1)
    if x.shape[-1] >= WIN_SIZE:
        x = F.conv2d(x, k, groups=C)
    if x.shape[-2] >= WIN_SIZE:
        x = F.conv2d(x, k.transpose(-1, -2), groups=C)
    return x


def _wmean(m, w):
    """Mean of map m (N,C,h,w) weighted by w (N,1,h,w) -> (N,C)."""
    if w is None:
        return m.flatten(2).mean(-1)
    w = w + 1e-12  # an empty region degrades to the plain mean instead of 0/0
    return (m * w).flatten(2).sum(-1) / w.flatten(2).sum(-1)


def _ssim_maps(X, Y, g, data_range=255.0, K=(0.01, 0.03)):
    C1 = (K[0] * data_range) ** 2
    C2 = (K[1] * data_range) ** 2
    mu1, mu2 = _blur(X, g), _blur(Y, g)
    s11 = _blur(X * X, g) - mu1 * mu1
    s22 = _blur(Y * Y, g) - mu2 * mu2
    s12 = _blur(X * Y, g) - mu1 * mu2
    cs_map = (2 * s12 + C2) / (s11 + s22 + C2)
    ssim_map = ((2 * mu1 * mu2 + C1) / (mu1 * mu1 + mu2 * mu2 + C1)) * cs_map
    return ssim_map, cs_map


def min_ms_ssim_side() -> int:
    return (WIN_SIZE - 1) * 2 ** (len(MS_SSIM_WEIGHTS) - 1) + 1


def ms_ssim_multi(ref, rec, weights: dict, *, dtype=torch.float32, batch=8) -> dict:
    """Per-frame MS-SSIM under several weightings at once: ``{name: (T,) float64}``.

    ``weights``: ``{name: None | (H,W) | (T,H,W) bool/float map}`` (None = plain MS-SSIM). The SSIM and
    CS maps are computed once per scale and averaged under every weighting."""
    r, d = _pair(ref, rec)
    T, H, Wd, _ = r.shape
    if min(H, Wd) < min_ms_ssim_side():
        raise MetricError(f"MS-SSIM needs frames at least {min_ms_ssim_side()} px on each side, got {H}x{Wd}")
    w_all = {k: _weights(v, (T, H, Wd)) for k, v in weights.items()}
    g = _gauss_1d(dtype)
    wts = torch.tensor(MS_SSIM_WEIGHTS, dtype=torch.float64)
    L = len(MS_SSIM_WEIGHTS)
    out = {k: np.empty(T, dtype=np.float64) for k in weights}
    with torch.no_grad():
        for s in range(0, T, batch):
            # np.array copies (the inputs may be read-only decoder output), the cast happens in numpy
            X = torch.from_numpy(np.array(r[s : s + batch], dtype=np.float64)).permute(0, 3, 1, 2).to(dtype)
            Y = torch.from_numpy(np.array(d[s : s + batch], dtype=np.float64)).permute(0, 3, 1, 2).to(dtype)
            Wt = {
                k: None if v is None else torch.from_numpy(np.ascontiguousarray(v[s : s + batch]))[:, None].to(dtype)
                for k, v in w_all.items()
            }
            vals = {k: [] for k in weights}
            for lvl in range(L):
                ssim_map, cs_map = _ssim_maps(X, Y, g)
                for k, w in Wt.items():
                    wb = None if w is None else _blur(w, g)
                    if lvl < L - 1:
                        vals[k].append(torch.relu(_wmean(cs_map, wb)))
                    else:
                        vals[k].append(torch.relu(_wmean(ssim_map, wb)))
                if lvl < L - 1:
                    pad = [v % 2 for v in X.shape[2:]]
                    X = F.avg_pool2d(X, 2, padding=pad)
                    Y = F.avg_pool2d(Y, 2, padding=pad)
                    Wt = {
                        k: None if w is None else F.avg_pool2d(w, 2, padding=pad, count_include_pad=False)
                        for k, w in Wt.items()
                    }
            for k in weights:
                stack = torch.stack(vals[k], 0).to(torch.float64)  # (L,N,C)
                out[k][s : s + batch] = torch.prod(stack ** wts.view(-1, 1, 1), 0).mean(1).numpy()
    return out


def ms_ssim(ref, rec, weight=None, *, dtype=torch.float32, batch=8) -> np.ndarray:
    """Per-frame MS-SSIM (RGB, averaged over channels), float64 array (T,).

    ``weight``: None, a bool/float (H,W) map or a (T,H,W) stack (see module doc). Frames must be at
    least 161 pixels on the shorter side (4 downsamplings of an 11-tap window)."""
    return ms_ssim_multi(ref, rec, {"w": weight}, dtype=dtype, batch=batch)["w"]


# ---------------------------------------------------------------------------------------------- foveation
def _frame_pixel_m(display, frame_hw):
    """Metres per frame pixel on the display: the frame is shown fitted to the screen (aspect kept), as
    ``rac_video.importance.foveation.Display`` does; without a pixel size it fills ``width_m``."""
    H, W = int(frame_hw[0]), int(frame_hw[1])
    wpx, hpx = getattr(display, "width_px", None), getattr(display, "height_px", None)
    if wpx and hpx:
        return float(display.width_m) / wpx * min(wpx / W, hpx / H)
    return float(display.width_m) / W


def pixels_per_degree(display, frame_hw) -> float:
    """Frame pixels per degree at the screen centre (the pixels spanned by the central 1° of view).

    ``display``: a number (already pixels per degree) or an object with ``width_m`` and ``distance_m``
    (and optionally ``width_px``, ``height_px``), e.g. ``rac_video.importance.foveation.Display``."""
    if isinstance(display, (int, float)):
        if not display > 0:
            raise MetricError("pixels per degree must be positive")
        return float(display)
    d = float(display.distance_m)
    if not d > 0:
        raise MetricError("display distance must be positive")
    return 2.0 * d * math.tan(math.radians(0.5)) / _frame_pixel_m(display, frame_hw)


def eccentricity_deg(frame_hw, fixation_xy, display) -> np.ndarray:
    """Eccentricity (degrees) of every pixel centre from the fixation (x, y) in frame pixels.

    With a display geometry the exact visual angle between the two view rays is used (frame centred on
    the screen, fitted to it); with a number it is the flat distance over pixels per degree."""
    H, W = int(frame_hw[0]), int(frame_hw[1])
    fx, fy = float(fixation_xy[0]), float(fixation_xy[1])
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise MetricError("fixation must be finite")
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64) + 0.5
    if isinstance(display, (int, float)):
        ppd = pixels_per_degree(display, (H, W))
        return np.hypot(xs - fx, ys - fy) / ppd
    m_per_px = _frame_pixel_m(display, (H, W))
    d = float(display.distance_m)
    if d <= 0 or m_per_px <= 0:
        raise MetricError("display distance and width must be positive")
    px, py = (xs - W / 2) * m_per_px, (ys - H / 2) * m_per_px
    qx, qy = (fx - W / 2) * m_per_px, (fy - H / 2) * m_per_px
    dot = px * qx + py * qy + d * d
    cosang = dot / (np.sqrt(px * px + py * py + d * d) * math.sqrt(qx * qx + qy * qy + d * d))
    return np.degrees(np.arccos(np.clip(cosang, -1.0, 1.0)))


def foveation_weight(frame_hw, fixation_xy, display, e2=HALF_RES_ECCENTRICITY_DEG) -> np.ndarray:
    """Eccentricity weight e2 / (e2 + e) in (0, 1], 1 at the fixation. No fixation (nan) -> uniform."""
    if fixation_xy is None or not np.all(np.isfinite(np.asarray(fixation_xy, dtype=np.float64))):
        return np.ones((int(frame_hw[0]), int(frame_hw[1])), dtype=np.float64)
    e = eccentricity_deg(frame_hw, fixation_xy, display)
    return e2 / (e2 + e)


# ---------------------------------------------------------------------------------------------- flicker
def flicker(src_prev, src, rec_prev, rec, region=None) -> dict:
    """Temporal flicker of a reconstruction in a region (bool/float (H,W) map, None = whole frame).

    ``rmse``: RMS over the region of (rec_t - rec_{t-1}) - (src_t - src_{t-1}) (8-bit levels; 0 = the
    reconstruction changes exactly as the source does); ``ratio``: energy of the reconstruction's frame
    difference over the source's (1 = same amount of change, > 1 = extra flicker). nan if the region is
    empty."""
    sp, s = _pair(src_prev, src)
    rp, r = _pair(rec_prev, rec)
    if sp.shape != rp.shape:
        raise MetricError("source and reconstruction frames differ in shape")
    ds = s.astype(np.float64) - sp
    dr = r.astype(np.float64) - rp
    w = _weights(region, ds.shape[:3])
    if w is None:
        w = np.ones(ds.shape[:3])
    den = w.sum()
    if den <= 0:
        return {"rmse": float("nan"), "ratio": float("nan")}
    w3 = w[..., None]
    e_diff = float((((dr - ds) ** 2) * w3).sum() / (3 * den))
    e_src = float(((ds**2) * w3).sum() / (3 * den))
    e_rec = float(((dr**2) * w3).sum() / (3 * den))
    ratio = e_rec / e_src if e_src > 0 else (1.0 if e_rec == 0 else float("inf"))
    return {"rmse": math.sqrt(e_diff), "ratio": ratio}


# ---------------------------------------------------------------------------------------------- regions
def region_masks(importance, threshold=0.5):
    """(inside, outside) boolean maps: importance >= threshold, and its complement."""
    m = np.asarray(importance, dtype=np.float32)
    if not 0.0 < threshold <= 1.0:
        raise MetricError("importance threshold must be in (0, 1]")
    inside = m >= threshold
    return inside, ~inside


# ---------------------------------------------------------------------------------------------- per sequence
PER_FRAME_KEYS = (
    "psnr", "psnr_roi", "psnr_bg", "psnr_fov",
    "ms_ssim", "ms_ssim_roi", "ms_ssim_bg", "ms_ssim_fov",
    "flicker_bg_rmse", "flicker_bg_ratio",
)


def sequence_metrics(src, rec, *, total_bytes, importance=None, fixations=None, display=None,
                     threshold=0.5, e2=HALF_RES_ECCENTRICITY_DEG) -> dict:
    """All metrics of one decoded sequence against its source.

    src, rec: (T,H,W,3) uint8; importance: (T,H,W) or (H,W) float in [0,1] (None = no region metrics);
    fixations: (T,2) frame pixels (nan rows = no fixation -> uniform weight) or None (the centre);
    display: pixels per degree or a Display-like geometry (None -> foveated metrics left out), with the
    frame fitted to the screen as in ``rac_video.importance.foveation``.
    Returns {"frames": [per-frame dicts], "summary": {key: mean over frames, "bpp", "bytes", ...}}.
    Region metrics of a frame whose region is empty are nan and ignored in the means."""
    s, r = _pair(src, rec)
    T, H, W, _ = s.shape
    imp = None
    if importance is not None:
        imp = np.asarray(importance, dtype=np.float32)
        if imp.ndim == 2:
            imp = np.broadcast_to(imp, (T, H, W))
        if imp.shape != (T, H, W):
            raise MetricError(f"importance of shape {imp.shape} does not match frames {(T, H, W)}")
    res = {k: np.full(T, np.nan) for k in PER_FRAME_KEYS}
    res["psnr"] = psnr(s, r)
    weights = {"ms_ssim": None}
    if imp is not None:
        inside, outside = region_masks(imp, threshold)
        res["psnr_roi"] = psnr(s, r, inside)
        res["psnr_bg"] = psnr(s, r, outside)
        weights["ms_ssim_roi"] = inside
        weights["ms_ssim_bg"] = outside
    if display is not None:
        if fixations is None:
            fixations = np.tile([[W / 2.0, H / 2.0]], (T, 1))
        fx = np.asarray(fixations, dtype=np.float64)
        if fx.shape != (T, 2):
            raise MetricError(f"fixations must be (T,2) = {(T, 2)}, got {fx.shape}")
        fw = np.stack([foveation_weight((H, W), fx[t], display, e2) for t in range(T)])
        res["psnr_fov"] = psnr(s, r, fw)
        weights["ms_ssim_fov"] = fw
    if min(H, W) >= min_ms_ssim_side():
        res.update(ms_ssim_multi(s, r, weights))
    if imp is not None:
        for t in range(1, T):
            bg = outside[t] & outside[t - 1]
            f = flicker(s[t - 1], s[t], r[t - 1], r[t], bg)
            res["flicker_bg_rmse"][t], res["flicker_bg_ratio"][t] = f["rmse"], f["ratio"]
    frames = [{k: _num(res[k][t]) for k in PER_FRAME_KEYS} for t in range(T)]
    summary = {}
    for k in PER_FRAME_KEYS:
        v = res[k]
        if k.startswith("psnr"):  # a lossless frame counts as PSNR_CAP dB in the means
            v = np.where(np.isposinf(v), PSNR_CAP, v)
        v = v[np.isfinite(v)]
        summary[k] = float(v.mean()) if len(v) else None
    # sequence PSNR from the mean MSE too (robust to a lossless frame's infinite PSNR)
    summary["psnr_seq"] = _num(psnr_from_mse(mse(s, r).mean()))
    summary["bytes"] = int(total_bytes)
    summary["bpp"] = bpp(total_bytes, T, H, W)
    summary["frames"] = T
    summary["roi_threshold"] = threshold if imp is not None else None
    if imp is not None:
        summary["roi_share"] = float((imp >= threshold).mean())
    return {"frames": frames, "summary": summary}


def _num(v):
    v = float(v)
    return v if math.isfinite(v) else None


def fovvideovdp(src, rec, fps, fixations=None, display=None, display_name="standard_fhd"):
    """FovVideoVDP (pyfvvdp, optional extra) of a sequence, in JOD (10 = no visible difference).

    Foveated on the per-frame fixations (T,2) when given (nan rows -> frame centre), otherwise
    non-foveated. ``display``: pixels per degree or a Display-like geometry (the frame fitted to the
    screen); None keeps the geometry of ``display_name``. The photometry always comes from
    ``display_name``. Returns {"jod", "version", "display", "foveated"}. Raises ImportError when pyfvvdp
    is not installed (callers then record the metric as absent)."""
    import pyfvvdp  # optional extra; imported lazily

    s, r = _pair(src, rec)
    T, H, W, _ = s.shape
    geometry = None
    if display is not None:
        if isinstance(display, (int, float)):
            fov_h = W / pixels_per_degree(display, (H, W))
            dist = 0.6
        else:  # the frame's own extent on the screen (fitted), as the foveation model sees it
            dist = float(display.distance_m)
            fov_h = 2 * math.degrees(math.atan(W * _frame_pixel_m(display, (H, W)) / 2 / dist))
        geometry = pyfvvdp.fvvdp_display_geometry((W, H), distance_m=dist, fov_horizontal=fov_h)
    foveated = fixations is not None
    m = pyfvvdp.fvvdp(display_name=display_name, display_geometry=geometry, foveated=foveated, heatmap=None, quiet=True)
    kw = {}
    if foveated:
        fx = np.asarray(fixations, dtype=np.float64)
        if fx.shape != (T, 2):
            raise MetricError(f"fixations must be (T,2) = {(T, 2)}, got {fx.shape}")
        fx = np.where(np.isfinite(fx), fx, np.array([[W / 2, H / 2]]))
        kw["fixation_point"] = torch.as_tensor(fx, dtype=torch.float32)
    with torch.no_grad():
        q, _ = m.predict(torch.from_numpy(r), torch.from_numpy(s), dim_order="FHWC", frames_per_second=float(fps), **kw)
    from importlib.metadata import version as _version

    return {"jod": float(q), "version": _version("pyfvvdp"), "display": display_name, "foveated": foveated}
