HELP = "decode a .racv file to a video (mp4 via libx264, or lossless FFV1 .mkv)"


def add_arguments(p):
    p.add_argument("input", help=".racv file")
    p.add_argument("-o", "--output", required=True, help="output video (.mp4, .mkv)")
    p.add_argument("--lossless", action="store_true", help="FFV1 (use a .mkv name) for evaluation")
    p.add_argument("--steps", type=int, default=None, help="override the DDIM steps stored in the stream")
    p.add_argument("--realism", type=float, default=None, metavar="RHO",
                   help="how much to generate where the importance is low, 0..1 (0: the fidelity decode; 1: sampled "
                        "texture in the background, the ROI stays faithful); default: the value the file records")
    p.add_argument("--skip-damaged", action="store_true",
                   help="keep decoding past lost or damaged frames: each is replaced by the previous frame (mid-grey "
                        "before the first), so the output keeps its length and timing; exit code 3 and a JSON list "
                        "of the replaced frames on stderr; default: stop with exit code 2")
    p.add_argument("--device", default="cpu")
    p.add_argument("--report", default=None, help="write the JSON report here")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")


def run(args):
    import json
    import sys

    from .. import pipeline
    from ._common import check_device, check_outputs, emit

    pipeline.check_steps(args.steps)
    if args.realism is not None:
        from ..codec.realism import check_realism

        check_realism(args.realism)
    check_device(args.device)
    check_outputs([args.output, args.report], [args.input])
    rep = pipeline.decode_video(args.input, args.output, steps=args.steps, realism=args.realism, skip_damaged=args.skip_damaged,
                                lossless=args.lossless, progress=not (args.no_progress or args.json),
                                device=args.device)
    text = (f"{args.output}: {rep['frames']} frames {rep['width']}x{rep['height']}, decode {rep['decode_fps']:.2f} "
            f"frames/s" + (f"; {len(rep['skipped'])} frame(s) replaced: {rep['damaged_frames']}"
                           if rep["skipped"] else ""))
    emit(rep, args.json, text, args.report)
    if rep["damaged"]:
        # exit 3: the output is complete in length, but not every frame the stream declares was decoded
        lost = {"skipped": rep["skipped"], "end_lost": rep["end_lost"], "errors": rep["errors"]}
        print(f"rac-video decode: warning: damaged stream, {len(rep['skipped'])} frame(s) replaced"
              + (", frames after the last may be lost" if rep["end_lost"] else "") + ": " + json.dumps(lost),
              file=sys.stderr)
        return 3
    return 0
