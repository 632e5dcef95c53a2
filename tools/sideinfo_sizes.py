#!/usr/bin/env python
"""Measure side-information sizes (bytes per frame) of real importance maps, both encodings.

For each case the per-frame importance comes from ``rac_video.importance.source`` (the pipeline's
hook), the levels are taken at latent resolution (factor ``--factor``), and we record the bytes of

* ``raster``: ``RasterLevels(levels).to_bytes()`` (lossless; smallest of its methods),
* ``parametric`` (gaze cases only): ``FoveatedGaze(...).to_bytes()``, whose regenerated levels are
  what the raster column codes (so the two are sizes of the *same* level map).

Cases (data from ../shared/data, skipped when missing): GazeCom traces on a 1280x720 frame at
30 fps (1 viewer, and 5 viewers combined), DAVIS-2016 object masks (feathered 8 px, background 0.1)
on 854x480, spectral-residual saliency on BasketballPass (416x240) and DAVIS. Also times the
decoder side: FoveatedGaze level regeneration and raster decoding.

    python tools/sideinfo_sizes.py [--data DIR] [--out benchmarks/sideinfo-sizes.json]
"""
from __future__ import annotations

import argparse
import datetime
import glob
import math
import os
import sys
import time

import numpy as np


from rac_video.eval.report import benchmark_record, machine_record, write_record  # noqa: E402
from rac_video.importance import sideinfo as si  # noqa: E402
from rac_video.importance import source  # noqa: E402
from rac_video.importance._resample import read_image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))


def _stats(v):
    a = np.asarray(v, dtype=np.float64)
    return {"mean": round(float(a.mean()), 1), "median": float(np.median(a)), "max": int(a.max()),
            "min": int(a.min()), "frames": int(len(a))}


def _images(folder, count):
    files = sorted(glob.glob(os.path.join(folder, "*.png")) + glob.glob(os.path.join(folder, "*.jpg")))[:count]
    for f in files:
        a, _ = read_image(f)
        yield a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2)


def run_case(name, spec, frame_hw, fps, frames, factor, levels, **kw):
    H, W = frame_hw
    hw = (math.ceil(H / factor), math.ceil(W / factor))
    src = source.open_source(spec, frame_hw, fps, levels=levels, **kw)
    raster, param, t_regen, t_raster_dec = [], [], [], []
    for fr in frames:
        f = src.step(fr)
        side = f.side_info(hw)
        lv = side.levels(hw)
        rb = si.RasterLevels(lv, levels).to_bytes()
        raster.append(len(rb))
        t0 = time.perf_counter()
        si.from_bytes(rb).levels(hw)
        t_raster_dec.append(time.perf_counter() - t0)
        if isinstance(side, si.FoveatedGaze):
            b = side.to_bytes()
            param.append(len(b))
            t0 = time.perf_counter()
            again = si.from_bytes(b).levels(hw)
            t_regen.append(time.perf_counter() - t0)
            assert np.array_equal(again, lv)
    out = {"name": name, "spec": spec.replace(DEFAULT_DATA, "DATA"), "frame_hw": [H, W], "latent_hw": list(hw),
           "fps": fps, "raster_bytes": _stats(raster),
           "raster_decode_ms_median": round(1e3 * float(np.median(t_raster_dec)), 3)}
    if param:
        out["parametric_bytes"] = _stats(param)
        out["parametric_regenerate_ms_median"] = round(1e3 * float(np.median(t_regen)), 3)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--out", default=os.path.join(HERE, "..", "benchmarks", "sideinfo-sizes.json"))
    ap.add_argument("--factor", type=int, default=8)
    ap.add_argument("--levels", type=int, default=16)
    ap.add_argument("--frames", type=int, default=150, help="frames per case (at most)")
    args = ap.parse_args(argv)
    D = args.data
    cases = []
    gz = sorted(glob.glob(os.path.join(D, "gaze/gazecom/natural_movies_gaze/*.coord")))
    for movie in ("beach", "doves", "street"):
        tr = [f for f in gz if f.endswith(f"_{movie}.coord")]
        if not tr:
            continue
        n = args.frames
        cases.append(run_case(f"gazecom-{movie}-1viewer-720p", "gaze:" + tr[0], (720, 1280), 30.0, [None] * n,
                              args.factor, args.levels))
        cases.append(run_case(f"gazecom-{movie}-5viewers-720p", "gaze:" + ",".join(tr[:5]), (720, 1280), 30.0,
                              [None] * n, args.factor, args.levels))
    for seq in sorted(glob.glob(os.path.join(D, "video/davis2016/Annotations/*"))):
        name = os.path.basename(seq)
        cases.append(run_case(f"davis-{name}-masks", "masks:" + seq, (480, 854), 24.0,
                              [None] * min(args.frames, len(glob.glob(os.path.join(seq, "*.png")))),
                              args.factor, args.levels, feather_px=8.0, background=0.1))
        jp = os.path.join(D, "video/davis2016/JPEGImages", name)
        cases.append(run_case(f"davis-{name}-saliency", "saliency", (480, 854), 24.0,
                              list(_images(jp, min(args.frames, 30))), args.factor, args.levels))
    bb = glob.glob(os.path.join(D, "video/basketballpass/*"))
    bb = [p for p in bb if os.path.isdir(p)]
    if bb:
        cases.append(run_case("basketballpass-saliency", "saliency", (240, 416), 50.0,
                              list(_images(bb[0], args.frames)), args.factor, args.levels))
    if not cases:
        print(f"no data under {D}", file=sys.stderr)
        return 2
    res = benchmark_record("tools/sideinfo_sizes.py", argv, None, machine=machine_record(numpy=np.__version__),
                           what="side-information bytes per frame, raster vs parametric (same level maps)",
                           date_utc=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                           factor=args.factor, levels=args.levels, side_info_version=si.VERSION, cases=cases)
    out = os.path.normpath(args.out)
    write_record(out, res)
    print(f"{'case':34s} {'latent':>8s} {'raster mean/max B':>18s} {'param mean/max B':>17s} {'regen ms':>8s}")
    for c in cases:
        r = c["raster_bytes"]
        p = c.get("parametric_bytes")
        print(f"{c['name']:34s} {c['latent_hw'][1]:>4d}x{c['latent_hw'][0]:<3d} {r['mean']:>10.1f}/{r['max']:<7d}"
              + (f" {p['mean']:>9.1f}/{p['max']:<7d} {c['parametric_regenerate_ms_median']:8.2f}" if p else ""))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
