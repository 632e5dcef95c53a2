HELP = "importance maps of a clip: side-info sizes per frame, optional heat-map overlay video"


def add_arguments(p):
    p.add_argument("input", nargs="?", help="frames folder or video file (not needed for gaze/boxes/uniform "
                   "with --size and --count)")
    p.add_argument("--spec", default="saliency",
                   help="importance source: uniform | saliency | saliency:PATH | masks:PATH | "
                        "boxes:x0,y0,x1,y1[;...] | gaze:TRACE[,TRACE...] (default saliency)")
    p.add_argument("--size", default=None, help="WxH frame size when there is no input")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default: the video's, else 25)")
    p.add_argument("--count", type=int, default=None, help="at most this many frames")
    p.add_argument("--factor", type=int, default=8, help="latent downsampling factor (default 8)")
    p.add_argument("--levels", type=int, default=16)
    p.add_argument("--predict-ms", type=float, default=0.0, help="gaze prediction (latency) in ms")
    p.add_argument("--overlay", default=None, help="write a heat-map overlay video here (needs PyAV)")
    p.add_argument("--json", action="store_true", help="machine-readable summary")


def _frames(path, count):
    """(iterator of RGB uint8 frames, fps or None, (H, W))."""
    import glob
    import os

    import numpy as np

    if os.path.isdir(path):
        from ..importance._resample import read_image

        files = sorted(p for p in glob.glob(os.path.join(path, "*"))
                       if p.lower().endswith((".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")))
        if not files:
            raise ValueError(f"no images in {path}")
        files = files[:count] if count else files

        def it():
            for f in files:
                a, mode = read_image(f)
                yield np.ascontiguousarray(a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=2))

        first, _ = read_image(files[0])
        return it(), None, first.shape[:2]
    import av

    c = av.open(path)
    s = c.streams.video[0]
    fps = float(s.average_rate) if s.average_rate else None
    H, W = s.codec_context.height, s.codec_context.width

    def it():
        try:
            for i, fr in enumerate(c.decode(video=0)):
                if count and i >= count:
                    break
                yield fr.to_ndarray(format="rgb24")
        finally:
            c.close()

    return it(), fps, (H, W)


def run(args):
    import json
    import math

    import numpy as np

    from ..importance import overlay, source

    if args.input:
        frames, fps, (H, W) = _frames(args.input, args.count)
    else:
        if not args.size or not args.count:
            raise ValueError("without an input give --size WxH and --count N")
        W, H = (int(v) for v in args.size.lower().split("x"))
        frames, fps = iter([None] * args.count), None
    fps = args.fps or fps or 25.0
    kw = {"levels": args.levels}
    if args.spec.startswith("gaze:"):
        kw["predict_s"] = args.predict_ms / 1000.0
    src = source.open_source(args.spec, (H, W), fps, **kw)
    hw = (math.ceil(H / args.factor), math.ceil(W / args.factor))
    sizes, maps_for_video, saccades = [], [], 0
    writer_frames = []
    for fr in frames:
        f = src.step(fr)
        side = f.side_info(hw)
        sizes.append(len(side.to_bytes()))
        saccades += int(f.saccade)
        if args.overlay:
            if fr is None:
                fr = np.full((H, W, 3), 96, np.uint8)
            writer_frames.append(fr)
            maps_for_video.append(f.map)
    if not sizes:
        raise ValueError("no frames")
    s = np.asarray(sizes)
    summary = {"spec": args.spec, "frame_hw": [H, W], "latent_hw": list(hw), "levels": args.levels, "fps": fps,
               "frames": len(s), "side_info_bytes": {"mean": round(float(s.mean()), 1), "max": int(s.max()),
                                                     "min": int(s.min())},
               "side_info_kbit_s": round(float(s.mean()) * 8 * fps / 1000, 2), "saccades": saccades}
    if args.overlay:
        n = overlay.write_overlay_video(args.overlay, writer_frames, maps_for_video, fps)
        summary["overlay"] = {"path": args.overlay, "frames": n}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        b = summary["side_info_bytes"]
        print(f"{args.spec}: {len(s)} frames {W}x{H}, latent {hw[1]}x{hw[0]}, L={args.levels}: side info "
              f"mean {b['mean']} B, max {b['max']} B ({summary['side_info_kbit_s']} kbit/s at {fps:g} fps)"
              + (f", {saccades} saccades" if args.spec.startswith("gaze:") else ""))
        if args.overlay:
            print(f"wrote {args.overlay}")
    return 0
