HELP = "the whole path on an embedded default clip + gaze trace: encode, decode, overlay video, JSON report"


def add_arguments(p):
    p.add_argument("-o", "--out", default="rac_video_demo", help="output folder (default ./rac_video_demo)")
    p.add_argument("--frames", type=int, default=None, help="clip length in frames (default 36 = 1.5 s)")
    r = p.add_mutually_exclusive_group()
    r.add_argument("-q", "--quality", type=int, default=None, help="constant quality 0..15 (default 8)")
    r.add_argument("-b", "--bitrate", type=float, default=None, help="target kbit/s instead of a quality")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model's)")
    p.add_argument("--uniform", action="store_true",
                   help="also encode with a uniform importance map at the gaze run's bitrate, for comparison")
    p.add_argument("--model", default=None, help="model name (default: the shipped one)")
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.add_argument("--no-progress", action="store_true")


def run(args):
    import os

    import numpy as np

    from .. import demo, pipeline
    from ..codec.weights import DEFAULT_MODEL
    from ..eval.metrics import sequence_metrics
    from ..importance.gaze import read_gaze
    from ..importance.overlay import write_overlay_video
    from ._common import emit

    n = args.frames or demo.DEMO_FRAMES
    if n < 1:
        raise ValueError("--frames must be at least 1")
    out = os.path.abspath(args.out)
    src_dir = os.path.join(out, "source_frames")
    os.makedirs(out, exist_ok=True)
    demo.make_clip(src_dir, frames=n)
    trace = demo.make_gaze_trace(os.path.join(out, "gaze.csv"), seconds=n / demo.DEMO_FPS + 0.5)
    progress = not (args.no_progress or args.json)
    steps = args.steps                   # None: the model's default
    quality = None if args.bitrate else (8 if args.quality is None else args.quality)

    display = demo.demo_display()

    def encode(spec, name, quality, bitrate):
        kw = {"display": display} if spec.startswith("gaze:") else {}
        opts = pipeline.EncodeOptions(quality=quality, bitrate_kbps=bitrate, importance=spec, importance_kw=kw,
                                      steps=steps,
                                      fps=demo.DEMO_FPS, model=args.model or DEFAULT_MODEL)
        enc = pipeline.encode_video(src_dir, os.path.join(out, f"{name}.racv"), opts, progress=progress,
                                    keep_frames=True)
        dec = pipeline.decode_video(os.path.join(out, f"{name}.racv"), os.path.join(out, f"{name}_decoded.mp4"),
                                    progress=progress, keep_frames=True)
        return enc, dec

    enc, dec = encode(f"gaze:{trace}", "demo", quality, args.bitrate)
    src, maps = np.stack(enc.pop("_frames")), np.stack(enc.pop("_maps"))
    rec = np.stack(dec.pop("_frames"))
    H, W = src.shape[1:3]
    fix = read_gaze(trace).per_frame(demo.DEMO_FPS, len(src), (W, H))
    write_overlay_video(os.path.join(out, "demo_overlay.mp4"), list(src), list(maps), demo.DEMO_FPS)
    met = sequence_metrics(src, rec, total_bytes=enc["file_bytes"], importance=maps, fixations=fix, display=display)
    report = {"clip": {"source": "matplotlib sample_data/grace_hopper.jpg, pan + zoom", "frames": len(src),
                       "size": [W, H], "fps": demo.DEMO_FPS, "gaze": "synthetic 250 Hz trace (gaze.csv)",
                       "display": {**vars(display), "ppd": display.ppd}},
              "encode": {k: v for k, v in enc.items() if k != "per_frame"}, "decode": dec,
              "metrics": met["summary"], "per_frame": [dict(a, **b) for a, b in zip(enc["per_frame"], met["frames"])],
              "files": {k: os.path.join(out, v) for k, v in (("stream", "demo.racv"), ("decoded", "demo_decoded.mp4"),
                                                             ("overlay", "demo_overlay.mp4"), ("gaze", "gaze.csv"),
                                                             ("report", "report.json"))}}
    if args.uniform:
        enc_u, dec_u = encode("uniform", "uniform", None, enc["kbps"])
        enc_u.pop("_frames"), enc_u.pop("_maps")
        rec_u = np.stack(dec_u.pop("_frames"))
        met_u = sequence_metrics(src, rec_u, total_bytes=enc_u["file_bytes"], importance=maps, fixations=fix,
                                 display=display)
        report["uniform"] = {"kbps": enc_u["kbps"], "metrics": met_u["summary"]}
    m = {k: ("n/a" if v is None else f"{v:.2f}" if isinstance(v, float) else v) for k, v in met["summary"].items()}
    lines = [f"rac-video demo: {len(src)} frames {W}x{H} @ {demo.DEMO_FPS} fps, gaze-driven importance",
             f"  stream   {report['files']['stream']}: {enc['file_bytes']} bytes, {enc['kbps']:.1f} kbit/s, "
             f"{enc['bpp']:.4f} bpp (side info {enc['bits_per_frame']['side_info']:.0f} bits/frame)",
             f"  quality  PSNR {m['psnr']} dB (importance >= 0.5: {m['psnr_roi']}, below: {m['psnr_bg']}), "
             f"foveated PSNR {m['psnr_fov']} dB, MS-SSIM {met['summary']['ms_ssim'] or float('nan'):.4f}",
             f"  speed    encode {enc['encode_fps']:.2f} frames/s, decode {dec['decode_fps']:.2f} frames/s (this machine)"]
    if args.uniform:
        u = {k: ("n/a" if v is None else f"{v:.2f}" if isinstance(v, float) else v)
             for k, v in report["uniform"]["metrics"].items()}
        lines.append(f"  uniform  at {report['uniform']['kbps']:.1f} kbit/s: PSNR {u['psnr']} dB (importance >= 0.5: "
                     f"{u['psnr_roi']}, below: {u['psnr_bg']}), foveated PSNR {u['psnr_fov']} dB")
    lines.append(f"  files    {out}/ (demo_decoded.mp4, demo_overlay.mp4, report.json)")
    emit(report, args.json, "\n".join(lines), report["files"]["report"])
    return 0
