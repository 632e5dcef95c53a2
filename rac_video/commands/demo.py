HELP = ("the whole path on an embedded default clip + gaze trace: gaze coding vs a uniform map vs x264 with the "
        "same ROI offsets at equal bytes; side-by-side video, zoomed still, JSON report")


def add_arguments(p):
    p.add_argument("-o", "--out", default="rac_video_demo", help="output folder (default ./rac_video_demo)")
    p.add_argument("--frames", type=int, default=None, help="clip length in frames (default 16 = 1.33 s at 12 fps)")
    r = p.add_mutually_exclusive_group()
    r.add_argument("-q", "--quality", type=int, default=None, help="constant quality 0..15 of the gaze coding "
                                                                   "(default 8)")
    r.add_argument("-b", "--bitrate", type=float, default=None, help="target kbit/s instead of a quality")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model's)")
    p.add_argument("--uniform", action="store_true",
                   help="kept for old command lines: the uniform-map comparison now always runs")
    p.add_argument("--no-compare", action="store_true",
                   help="only the gaze coding (no uniform map, no x264, no side-by-side)")
    p.add_argument("--model", default=None, help="model name (default: the shipped one)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default 1: on a busy 2-core machine two OpenMP threads ran the demo 5x "
                        "slower than one; 0 keeps torch's default)")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--no-progress", action="store_true")


def _fmt(v, spec=".2f"):
    return "n/a" if v is None else format(v, spec)


def run(args):
    """Run the demo with torch on ``--threads`` threads, restoring the previous setting afterwards."""
    import torch

    if args.threads < 0:
        raise ValueError("--threads must be >= 0")
    before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(before)


def _run(args):
    import os
    import time

    import numpy as np

    from .. import demo, pipeline
    from ..codec import load_model
    from ..codec.weights import DEFAULT_MODEL
    from ..eval import metrics as M
    from ..importance.foveation import effective_ppd, radius_for_importance
    from ..importance.overlay import write_overlay_video
    from ..importance.source import open_source
    from ._common import emit

    import torch

    t_start, cpu_start = time.perf_counter(), time.process_time()
    timings = {}
    mark = [t_start, cpu_start]

    def lap(name):                       # wall and CPU seconds (all threads) of each stage
        now, cpu = time.perf_counter(), time.process_time()
        timings[name] = {"wall_s": now - mark[0], "cpu_s": cpu - mark[1]}
        mark[:] = [now, cpu]
    n = args.frames or demo.DEMO_FRAMES
    if n < 1:
        raise ValueError("--frames must be at least 1")
    fps = demo.DEMO_FPS
    out = os.path.abspath(args.out)
    src_dir = os.path.join(out, "source_frames")
    os.makedirs(out, exist_ok=True)
    demo.make_clip(src_dir, frames=n)
    trace = demo.make_gaze_trace(os.path.join(out, "gaze.csv"), seconds=n / fps + 0.5)
    progress = not (args.no_progress or args.json)
    steps = args.steps                   # None: the model's default
    quality = None if args.bitrate else (8 if args.quality is None else args.quality)
    display = demo.demo_display()
    codec = load_model(args.model or DEFAULT_MODEL)
    gaze_spec = f"gaze:{trace}"

    def encode(spec, name, quality, bitrate, folder=out):
        kw = {"display": display} if spec.startswith("gaze:") else {}
        opts = pipeline.EncodeOptions(quality=quality, bitrate_kbps=bitrate, importance=spec, importance_kw=kw,
                                      steps=steps, fps=fps, model=codec.name)
        os.makedirs(folder, exist_ok=True)
        racv = os.path.join(folder, f"{name}.racv")
        enc = pipeline.encode_video(src_dir, racv, opts, progress=progress, keep_frames=True, codec=codec)
        dec = pipeline.decode_video(racv, os.path.join(folder, f"{name}_decoded.mp4"), progress=progress,
                                    keep_frames=True, codec=codec)
        return enc, dec

    # 1. gaze coding (the method)
    lap("setup")
    enc, dec = encode(gaze_spec, "demo", quality, args.bitrate)
    lap("gaze_encode_decode")
    src, maps = np.stack(enc.pop("_frames")), np.stack(enc.pop("_maps"))
    rec = np.stack(dec.pop("_frames"))
    T, H, W = src.shape[:3]
    # the same importance source again: the filtered gaze points and the levels both ends used
    isrc = open_source(gaze_spec, (H, W), float(fps), levels=codec.levels, display=display)
    latent_hw = codec.latent_hw(H, W)
    points, levels_gaze, saccades = [], [], 0
    for f in src:
        fr = isrc.step(f)
        p = fr.points[np.isfinite(fr.points).all(axis=1)] if fr.points is not None else np.zeros((0, 2))
        points.append(p[0] if len(p) else np.array([np.nan, np.nan]))
        levels_gaze.append(fr.side_info(latent_hw).levels(latent_hw))
        saccades += int(fr.saccade)
    points = np.stack(points)
    thr = demo.fovea_threshold(display, (H, W))
    fovea = maps >= thr
    eff_ppd = effective_ppd(display, (H, W))
    fovea_px = demo.FOVEA_DEG * display.frame_ppd((H, W))
    r05 = radius_for_importance(0.5, eff_ppd, isrc.params)
    write_overlay_video(os.path.join(out, "demo_overlay.mp4"), list(src), list(maps), fps)

    def region_bits(enc_report, levels):
        """Payload kbit/s inside / outside the fovea from each frame's bit map (shares of its coded payload)."""
        inside = outside = 0.0
        for t, st in enumerate(enc_report["per_frame"]):
            bm = demo.bit_map(codec, src[t], levels[t], st["quality"])
            share = float(bm[fovea[t]].sum() / bm.sum()) if bm.sum() > 0 else 0.0
            inside += 8 * st["payload_bytes"] * share
            outside += 8 * st["payload_bytes"] * (1 - share)
        secs = T / fps
        side = 8 * sum(st["bytes"] - st["payload_bytes"] for st in enc_report["per_frame"])
        fpx, opx = float(fovea.sum()), float((~fovea).sum())
        return {"fovea_kbps": inside / 1000 / secs, "periphery_kbps": outside / 1000 / secs,
                "fovea_share_of_payload": inside / (inside + outside) if inside + outside else None,
                "fovea_bpp": inside / fpx if fpx else None, "periphery_bpp": outside / opx if opx else None,
                "side_info_and_headers_kbps": side / 1000 / secs,
                "method": "information content of each coded symbol (bit_map), as shares of each frame's payload"}

    # quality in the fovea and the periphery (the same regions for every coding), foveated PSNR
    # (eccentricity weights around the filtered gaze point); computed once per frame here
    fov_w = np.stack([M.foveation_weight((H, W), points[t], display) for t in range(T)])
    ms_weights = {"ms_ssim": None, "ms_ssim_fovea": fovea, "ms_ssim_periphery": ~fovea}
    can_ms = min(H, W) >= M.min_ms_ssim_side()

    def measure(rec_frames, nbytes):
        per = {"psnr": M.psnr(src, rec_frames), "psnr_fovea": M.psnr(src, rec_frames, fovea),
               "psnr_periphery": M.psnr(src, rec_frames, ~fovea), "psnr_foveated": M.psnr(src, rec_frames, fov_w)}
        if can_ms:
            per.update(M.ms_ssim_multi(src, rec_frames, ms_weights))
        summ = {}
        for k, v in per.items():
            v = np.where(np.isposinf(v), M.PSNR_CAP, v) if k.startswith("psnr") else v
            v = v[np.isfinite(v)]
            summ[k] = float(v.mean()) if len(v) else None
        for k in ms_weights:
            summ.setdefault(k, None)
        summ["bytes"], summ["bpp"] = int(nbytes), M.bpp(nbytes, T, H, W)
        frames = [{k: M._num(v[t]) for k, v in per.items()} for t in range(T)]
        return summ, frames

    q_gaze, met = measure(rec, enc["file_bytes"])
    gaze_bits = region_bits(enc, levels_gaze)
    lap("gaze_metrics_bits")
    codings = {"gaze": {"label": "ours, gaze", "bytes": enc["file_bytes"], "kbps": enc["kbps"],
                        "qualities": sorted({st["quality"] for st in enc["per_frame"]}),
                        "frame_kbps": [8 * st["bytes"] * fps / 1000 for st in enc["per_frame"]],
                        "frame_psnr_fovea": [f["psnr_fovea"] for f in met],
                        "frame_psnr_periphery": [f["psnr_periphery"] for f in met],
                        "bits": gaze_bits, "quality": q_gaze}}
    report = {"clip": {"source": "matplotlib sample_data/grace_hopper.jpg, pan + zoom", "frames": T,
                       "size": [W, H], "fps": fps, "gaze": "synthetic 250 Hz trace (gaze.csv)",
                       "display": {**vars(display), "ppd": display.ppd, "text": demo.DISPLAY_TEXT,
                                   "monitor": demo.MONITOR,
                                   "field_deg": [W / display.frame_ppd((H, W)), H / display.frame_ppd((H, W))]}},
              "regions": {"fovea": f"within {demo.FOVEA_DEG:g} deg of the filtered gaze point "
                                   f"({fovea_px:.0f} px; gaze importance >= {thr:.3f})",
                          "periphery": "the rest of the frame",
                          "fovea_share": float(fovea.mean()), "roi_share": float((maps >= 0.5).mean()),
                          "roi_threshold": 0.5, "importance_0.5_radius_deg": r05,
                          "importance_mean": float(maps.mean()), "saccade_frames": saccades},
              "encode": {k: v for k, v in enc.items() if k != "per_frame"}, "decode": dec,
              "metrics": q_gaze, "per_frame": [dict(a, **b) for a, b in zip(enc["per_frame"], met)],
              "codings": codings,
              "files": {k: os.path.join(out, v) for k, v in (("stream", "demo.racv"), ("decoded", "demo_decoded.mp4"),
                                                             ("overlay", "demo_overlay.mp4"), ("gaze", "gaze.csv"),
                                                             ("report", "report.json"))}}
    if not args.no_compare:
        _compare(report, codings, encode, src, maps, rec, points, fovea_px, fps, out, measure, region_bits,
                 latent_hw, codec, q_gaze, enc, lap, steps)
    report["wall_seconds"] = time.perf_counter() - t_start
    report["cpu_seconds"] = time.process_time() - cpu_start
    report["timings"] = timings
    report["torch_threads"] = torch.get_num_threads()
    emit(report, args.json, _text(report, out), report["files"]["report"])
    return 0


def _compare(report, codings, encode, src, maps, rec, points, fovea_px, fps, out, measure, region_bits,
             latent_hw, codec, q_gaze, enc, lap, steps):
    """Uniform map and x264 + ROI at the gaze coding's size, the uniform rate-quality points for the
    saving at equal foveal quality, the side-by-side video and the zoomed still."""
    import math
    import os

    import numpy as np
    from PIL import Image

    from .. import demo, pipeline
    from ..eval import sidebyside as sbs
    from ..eval.baselines import VideoBaseline
    from ..eval.matching import match_baseline

    T = len(src)
    secs = T / fps
    full = np.full(latent_hw, codec.levels - 1, np.uint8)
    # 2. our codec with a uniform map, rate-controlled to the gaze coding's bitrate
    enc_u = _encode_rate_controlled(codec, src, fps, enc["kbps"], os.path.join(out, "uniform.racv"), steps,
                                    q_max=max(codings["gaze"]["qualities"]))
    dec_u = pipeline.decode_video(os.path.join(out, "uniform.racv"), os.path.join(out, "uniform_decoded.mp4"),
                                  progress=False, keep_frames=True, codec=codec)
    rec_u = np.stack(dec_u.pop("_frames"))
    q_u, met_u = measure(rec_u, enc_u["file_bytes"])
    codings["uniform"] = {"label": "ours, uniform map", "bytes": enc_u["file_bytes"], "kbps": enc_u["kbps"],
                          "qualities": sorted({st["quality"] for st in enc_u["per_frame"]}),
                          "frame_kbps": [8 * st["bytes"] * fps / 1000 for st in enc_u["per_frame"]],
                          "frame_psnr_fovea": [f["psnr_fovea"] for f in met_u],
                          "frame_psnr_periphery": [f["psnr_periphery"] for f in met_u],
                          "bits": region_bits(enc_u, [full] * T), "quality": q_u}
    report["uniform"] = {"kbps": enc_u["kbps"], "metrics": q_u}          # the old --uniform entry
    lap("uniform_encode_decode_metrics_bits")
    # 3. x264 with the same importance maps as ROI QP offsets, CRF searched to the same total bytes
    x264 = VideoBaseline("libx264", roi=True, fps=fps)
    m = match_baseline(x264, src, maps, enc["file_bytes"])
    rec_x = m.encoded.decode()
    q_x, met_x = measure(rec_x, m.encoded.nbytes)
    codings["x264_roi"] = {"label": "x264 + same ROI", "bytes": int(m.encoded.nbytes),
                           "kbps": 8 * m.encoded.nbytes / 1000 / secs, "crf": m.encoded.param,
                           "match": m.record(), "baseline": x264.describe(),
                           "frame_kbps": [8 * b * fps / 1000 for b in m.encoded.info["frame_bytes"]],
                           "frame_psnr_fovea": [f["psnr_fovea"] for f in met_x],
                           "frame_psnr_periphery": [f["psnr_periphery"] for f in met_x],
                           "bits": None, "bits_note": "per-region bits are not exposed by libx264 through PyAV",
                           "quality": q_x}
    lap("x264_roi_match_decode_metrics")
    # 4. saving at equal foveal quality: uniform-map rate-quality points bracketing the gaze coding's
    #    foveal PSNR (the rate-controlled run above, plus constant-quality runs)
    curve = [(enc_u["file_bytes"], q_u["psnr_fovea"], q_u["ms_ssim_fovea"], "rate-controlled")]
    target = q_gaze["psnr_fovea"]
    q_mean_u = float(np.mean([st["quality"] for st in enc_u["per_frame"]]))
    # first guess: ~1 dB of foveal PSNR per quality step above the rate-controlled run (a guess only: the
    # loop below measures, and steps on until the gaze coding's foveal PSNR is bracketed)
    gap = 0.0 if target is None or q_u["psnr_fovea"] is None else target - q_u["psnr_fovea"]
    q_next = int(min(max(codings["gaze"]["qualities"]), max(0, math.ceil(q_mean_u + max(gap, 0.0)))))
    if gap < 0:
        q_next = max(0, min(codings["uniform"]["qualities"]) - 1)
    # a rate-controlled run that used one quality throughout already is that constant-quality point
    tried = set(codings["uniform"]["qualities"]) if len(codings["uniform"]["qualities"]) == 1 else set()
    for _ in range(3 if target is not None else 0):
        size, how = demo.rate_at_quality([(b, p) for b, p, _, _ in curve], target)
        if how == "interpolated":
            break
        while q_next in tried:
            q_next += 1 if how == "below" else -1
        if not 0 <= q_next <= 15:
            break
        tried.add(q_next)
        e, d = encode("uniform", f"uniform_q{q_next}", q_next, None, folder=os.path.join(out, "curve"))
        e.pop("_frames"), e.pop("_maps")
        qq, _ = measure(np.stack(d.pop("_frames")), e["file_bytes"])
        curve.append((e["file_bytes"], qq["psnr_fovea"], qq["ms_ssim_fovea"], f"q={q_next}"))
    size_p, how_p = demo.rate_at_quality([(b, p) for b, p, _, _ in curve], target)
    size_m, how_m = demo.rate_at_quality([(b, s) for b, _, s, _ in curve], q_gaze["ms_ssim_fovea"])
    report["equal_fovea"] = {
        "uniform_points": [{"bytes": int(b), "kbps": 8 * b / 1000 / secs, "psnr_fovea": p, "ms_ssim_fovea": s,
                            "run": r} for b, p, s, r in curve],
        "gaze_bytes": enc["file_bytes"],
        "psnr": {"target": target, "uniform_bytes": size_p, "how": how_p,
                 "saving": None if size_p is None else 1 - enc["file_bytes"] / size_p},
        "ms_ssim": {"target": q_gaze["ms_ssim_fovea"], "uniform_bytes": size_m, "how": how_m,
                    "saving": None if size_m is None else 1 - enc["file_bytes"] / size_m},
        "method": "log(bytes) interpolated linearly in foveal quality between the two uniform-map runs "
                  "that bracket the gaze coding's; no extrapolation"}
    lap("uniform_curve")
    # 5. pictures: side-by-side video (2x2) and the zoomed still
    H, W = src.shape[1:3]
    names = [("source", src), ("gaze", rec), ("uniform", rec_u), ("x264_roi", rec_x)]

    def lines(key, t):
        if key == "source":
            return [f"source  {W}x{H}  frame {t}", f"gaze: yellow cross, {demo.FOVEA_DEG:g} deg fovea circle"]
        c = codings[key]
        pf, pp = c["frame_psnr_fovea"][t], c["frame_psnr_periphery"][t]
        return [f"{c['label']}  {c['kbps']:.0f} kbit/s (whole clip)",
                f"this frame {c['frame_kbps'][t]:.0f} kbit/s  PSNR fovea {_fmt(pf, '.1f')} dB, "
                f"periphery {_fmt(pp, '.1f')} dB"]

    frames = [sbs.grid([sbs.annotate(r[t], lines(k, t), gaze=points[t], radius_px=fovea_px) for k, r in names])
              for t in range(T)]
    sbs.write_video(os.path.join(out, "demo_sidebyside.mp4"), frames, fps)
    # the still: a frame in a fixation (gaze steady) whose foveal window has the most detail to look at
    side = 72                              # shown at 144 px: a 2x zoom
    speed = np.r_[np.inf, np.hypot(*np.diff(points, axis=0).T)]

    def fbox_of(t):
        return sbs.crop_box(points[t] if np.isfinite(points[t]).all() else (W / 2, H / 2), side, (H, W))

    def detail(t):
        x0, y0, x1, y1 = fbox_of(t)
        g = src[t, y0:y1, x0:x1].astype(np.float32).mean(-1)
        return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())

    t0 = max(range(T), key=lambda t: (bool(np.isfinite(points[t]).all()), bool(speed[t] <= 2), detail(t)))
    fbox = fbox_of(t0)
    pbox = sbs.periphery_box(src[t0], maps[t0], side)
    still_labels = [[f"source, frame {t0}", "yellow: gaze, 2 deg fovea"]] + [
        [f"{codings[k]['label']}, {codings[k]['kbps']:.0f} kbit/s",
         f"this frame: fovea {_fmt(codings[k]['frame_psnr_fovea'][t0], '.1f')} dB, "
         f"periph. {_fmt(codings[k]['frame_psnr_periphery'][t0], '.1f')} dB"] for k, _ in names[1:]]
    still = sbs.zoom_still([r[t0] for _, r in names], still_labels, fbox, pbox, gaze=points[t0], radius_px=fovea_px)
    Image.fromarray(still).save(os.path.join(out, "demo_frame.png"), optimize=True)
    report["files"].update({"sidebyside": os.path.join(out, "demo_sidebyside.mp4"),
                            "still": os.path.join(out, "demo_frame.png"),
                            "uniform_stream": os.path.join(out, "uniform.racv")})
    report["still"] = {"frame": int(t0), "fovea_box": list(fbox), "periphery_box": list(pbox)}
    lap("pictures")


def _encode_rate_controlled(codec, src, fps, kbps, path, steps, *, q_max=None, window=1):
    """Uniform-map coding of ``src`` at ``kbps`` with the codec's rate control (``pipeline.FrameEncoder``),
    its quality search narrowed to at most ``q_max`` (a uniform map at the gaze coding's rate never needs
    a higher q than the gaze coding: every level is at the top) and, after the first frame, to the
    previous frame's q ± ``window`` (the rate estimate is the costly part: fewer candidate qualities,
    same controller and feedback). Writes ``path``."""
    import os
    import time
    from fractions import Fraction

    from .. import pipeline, schedule
    from ..container import Writer
    from ..importance.source import open_source

    T, H, W = src.shape[:3]
    opts = pipeline.EncodeOptions(quality=None, bitrate_kbps=kbps, importance="uniform", steps=steps, fps=fps,
                                  model=codec.name)
    fe = pipeline.FrameEncoder(codec, W, H, fps, opts)
    top = schedule.Q_MAX if q_max is None else int(q_max)
    fe.rate.hi = top
    isrc = open_source("uniform", (H, W), float(fps), levels=codec.levels)
    stats = []
    t0 = time.perf_counter()
    with Writer(path, pipeline.header_for(codec, W, H, Fraction(fps), opts)) as w:
        for t in range(T):
            if stats:
                q = stats[-1]["quality"]
                fe.rate.lo, fe.rate.hi = max(0, q - window), min(top, q + window)
            pkt, st = fe.encode(src[t], isrc.step(src[t]), t, t)
            w.write(pkt)
            stats.append(st)
    nbytes = os.path.getsize(path)
    return {"file_bytes": nbytes, "kbps": 8 * nbytes / 1000 / (T / fps), "target_kbps": kbps,
            "encode_seconds": time.perf_counter() - t0, "per_frame": stats}


def _text(report, out):
    c, r = report["clip"], report["regions"]
    d = c["display"]
    lines = [f"rac-video demo: {c['frames']} frames {c['size'][0]}x{c['size'][1]} @ {c['fps']} fps, "
             f"synthetic gaze ({r['saccade_frames']} frames flagged as saccades)",
             f"  viewing  {d['text']}: {d['ppd']:.0f} px/deg, the clip spans {d['field_deg'][0]:.1f} x "
             f"{d['field_deg'][1]:.1f} deg",
             f"  regions  fovea ({r['fovea']}) {100 * r['fovea_share']:.0f} % of the frame; "
             f"importance >= 0.5 {100 * r['roi_share']:.0f} %, mean importance {r['importance_mean']:.2f}",
             "",
             f"  {'coding':<20} {'kbit/s':>7} {'fovea':>7} {'periph':>7} | {'PSNR fovea':>10} {'periph':>7} "
             f"| {'MS-SSIM fovea':>13} {'periph':>7} | {'PSNR all':>8}",
             f"  {'':<20} {'total':>7} {'kbit/s':>7} {'kbit/s':>7} | {'dB':>10} {'dB':>7} | {'':>13} {'':>7} | "
             f"{'dB':>8}"]
    for key in ("gaze", "uniform", "x264_roi"):
        if key not in report["codings"]:
            continue
        k = report["codings"][key]
        b, q = k["bits"], k["quality"]
        lines.append(f"  {k['label']:<20} {k['kbps']:>7.0f} {_fmt(b and b['fovea_kbps'], '.0f'):>7} "
                     f"{_fmt(b and b['periphery_kbps'], '.0f'):>7} | {_fmt(q['psnr_fovea']):>10} "
                     f"{_fmt(q['psnr_periphery']):>7} | {_fmt(q['ms_ssim_fovea'], '.4f'):>13} "
                     f"{_fmt(q['ms_ssim_periphery'], '.4f'):>7} | {_fmt(q['psnr']):>8}")
    lines.append("  (fovea/periphery kbit/s: the payload by where its symbols lie; x264 does not expose per-region "
                 "bits; side info and headers not split)")
    eq = report.get("equal_fovea")
    if eq:
        for name, k in (("PSNR", "psnr"), ("MS-SSIM", "ms_ssim")):
            e = eq[k]
            if e["saving"] is not None:
                lines.append(f"  equal foveal {name}: uniform coding needs {e['uniform_bytes']:.0f} bytes for the "
                             f"gaze coding's {e['target']:.4g}; gaze uses {eq['gaze_bytes']} bytes: "
                             f"{100 * e['saving']:+.1f} % saving")
            else:
                pts = ", ".join(f"{p['kbps']:.0f} kbit/s: {p['psnr_fovea' if k == 'psnr' else 'ms_ssim_fovea']:.4g}"
                                for p in eq["uniform_points"])
                lines.append(f"  equal foveal {name}: not bracketed by the uniform runs ({pts}; gaze "
                             f"{e['target']:.4g}) - no saving claimed")
    enc, dec = report["encode"], report["decode"]
    lines.append(f"  speed    encode {enc['encode_fps']:.2f} frames/s, decode {dec['decode_fps']:.2f} frames/s; "
                 f"whole demo {report['wall_seconds']:.0f} s wall, {report['cpu_seconds']:.0f} s CPU (this machine)")
    files = "demo_sidebyside.mp4, demo_frame.png, " if "still" in report else ""
    lines.append(f"  files    {out}/ ({files}demo_decoded.mp4, demo_overlay.mp4, report.json)")
    return "\n".join(lines)
