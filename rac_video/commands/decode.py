HELP = "decode a .racv file to a video (mp4 via libx264, or lossless FFV1 .mkv)"


def add_arguments(p):
    p.add_argument("input", help=".racv file")
    p.add_argument("-o", "--output", required=True, help="output video (.mp4, .mkv)")
    p.add_argument("--lossless", action="store_true", help="FFV1 (use a .mkv name) for evaluation")
    p.add_argument("--steps", type=int, default=None, help="override the DDIM steps stored in the stream")
    p.add_argument("--skip-damaged", action="store_true",
                   help="keep decoding past damaged frames (they repeat the previous frame); default: stop")
    p.add_argument("--device", default="cpu")
    p.add_argument("--report", default=None, help="write the JSON report here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")


def run(args):
    from .. import pipeline
    from ._common import emit

    rep = pipeline.decode_video(args.input, args.output, steps=args.steps, skip_damaged=args.skip_damaged,
                                lossless=args.lossless, progress=not (args.no_progress or args.json),
                                device=args.device)
    text = (f"{args.output}: {rep['frames']} frames {rep['width']}x{rep['height']}, decode {rep['decode_fps']:.2f} "
            f"frames/s" + (f"; damaged frames (repeated previous): {rep['damaged_frames']}"
                           if rep["damaged_frames"] else ""))
    emit(rep, args.json, text, args.report)
    return 3 if rep["damaged_frames"] else 0
