HELP = "encode a video (file or image folder) to .racv with gaze / saliency / ROI importance"


def add_arguments(p):
    from ._common import add_importance_arguments

    p.add_argument("input", help="video file (any format PyAV reads) or folder of PNG/JPEG frames")
    p.add_argument("-o", "--output", required=True, help="output .racv file")
    add_importance_arguments(p)
    r = p.add_mutually_exclusive_group()
    r.add_argument("-q", "--quality", type=int, default=None, help="constant quality q in 0..15 (default 8)")
    r.add_argument("-b", "--bitrate", type=float, default=None, help="target bitrate in kbit/s (q chosen per frame)")
    p.add_argument("--steps", type=int, default=None, help="DDIM steps for the decoder (default: the model's; 0 = none)")
    p.add_argument("--rdoq", type=float, default=None, metavar="ALPHA",
                   help="rate-distortion optimised quantization strength α (0 = off; default: the model's)")
    p.add_argument("--realism", type=float, default=0.0, metavar="RHO",
                   help="the realism ρ in 0..1 decoders use by default (recorded in the header; a decoder may pick "
                        "another: the same file decodes in any mode)")
    p.add_argument("--no-colour-layer", action="store_true",
                   help="do not send each 64x64 block's mean colour (saves ~0.003 bpp; low rates then shift colour)")
    p.add_argument("--masked", type=int, default=0, metavar="M",
                   help="masked levels: elements of importance level < M send no symbol and are taken from the "
                        "entropy model's mean (0: off; the background of a gaze map is about level 5)")
    p.add_argument("--refine", type=int, default=0, metavar="N",
                   help="encode-time latent refinement: N gradient steps on rate + distortion through the decoder "
                        "per intra frame (0, the default: off; docs/results.md, 'Latent refinement', for what 50 "
                        "steps buy and cost; the decoder is unchanged)")
    p.add_argument("--frames", type=int, default=None, help="encode at most this many frames")
    p.add_argument("--fps", type=float, default=None, help="frame rate of an image folder (default 30)")
    p.add_argument("--seed", type=int, default=0, help="dither seed")
    p.add_argument("--gop", type=int, default=1, metavar="N",
                   help="an intra frame every N frames, P-frames predicted from the frame before in between "
                        "(1, the default: every frame intra; N > 1 needs a model with a temporal prior and -q)")
    p.add_argument("--model", default=None, help="model name (default: the shipped one)")
    p.add_argument("--device", default="cpu", help="torch device for the networks (cpu, cuda)")
    p.add_argument("--report", default=None, help="write the JSON report here")
    p.add_argument("--json", action="store_true", help="print the JSON report instead of a summary")
    p.add_argument("--no-progress", action="store_true")


def run(args):
    import math

    from .. import pipeline
    from ..codec.weights import DEFAULT_MODEL
    from ._common import check_device, check_outputs, emit, importance_inputs, importance_spec

    spec, kw = importance_spec(args)
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    if args.fps is not None and not (math.isfinite(args.fps) and 0 < args.fps <= pipeline.MAX_FPS):
        raise ValueError(f"--fps must be in (0, {pipeline.MAX_FPS}], got {args.fps}")
    if args.bitrate is not None and not (math.isfinite(args.bitrate) and args.bitrate > 0):
        raise ValueError(f"-b/--bitrate must be a positive finite number of kbit/s, got {args.bitrate}")
    if args.steps is not None:
        pipeline.check_steps(args.steps)
    if not 0 <= args.seed < 2**32:
        raise ValueError(f"--seed must be in [0, 2^32), got {args.seed}")
    if not 1 <= args.gop <= pipeline.MAX_GOP:
        raise ValueError(f"--gop must be in 1..{pipeline.MAX_GOP}, got {args.gop}")
    if args.gop > 1 and args.bitrate is not None:
        raise ValueError("--gop > 1 works with a constant quality (-q) only: the rate control estimates intra frames")
    if args.model is not None:
        pipeline.check_model_name(args.model)
    from ..codec.realism import check_realism

    check_realism(args.realism)
    check_device(args.device)
    check_outputs([args.output, args.report], [args.input, *importance_inputs(spec)])
    opts = pipeline.EncodeOptions(quality=None if args.bitrate else (8 if args.quality is None else args.quality),
                                  bitrate_kbps=args.bitrate, importance=spec, importance_kw=kw,
                                  steps=args.steps, rdoq=args.rdoq, seed=args.seed, realism=args.realism,
                                  colour=not args.no_colour_layer, masked=args.masked, refine=args.refine,
                                  model=args.model or DEFAULT_MODEL, device=args.device, max_frames=args.frames,
                                  fps=args.fps, gop=args.gop)
    rep = pipeline.encode_video(args.input, args.output, opts, progress=not (args.no_progress or args.json))
    bpf = rep["bits_per_frame"]
    text = (f"{args.output}: {rep['frames']} frames {rep['width']}x{rep['height']} @ {rep['fps']:.3g} fps, "
            f"{rep['file_bytes']} bytes, {rep['kbps']:.1f} kbit/s, {rep['bpp']:.4f} bpp, mean q {rep['quality_mean']:.2f}"
            + (f" (target {rep['target_kbps']:.1f} kbit/s, {100 * rep['rate_error']:+.1f} %)" if "target_kbps" in rep
               else "")
            + f"\n  bits/frame: payload {bpf['payload']:.0f}, side info {bpf['side_info']:.0f}, headers "
            f"{bpf['headers']:.0f}; encode {rep['encode_fps']:.2f} frames/s"
            + (f"\n  {rep['p_frames']} P-frames (gop {args.gop})" if args.gop > 1 else ""))
    emit(rep, args.json, text, args.report)
    if rep.get("gaze_lost_frames"):
        import sys

        print(f"rac-video encode: warning: gaze tracker loss in {rep['gaze_lost_frames']} of {rep['frames']} frames "
              "(no usable gaze sample: those frames are coded at uniform top importance)", file=sys.stderr)
    return 0
