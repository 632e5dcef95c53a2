HELP = "what loaded (versions, native backends, per-op backend choice); with FILE.racv: describe the file"


def add_arguments(p):
    p.add_argument("file", nargs="?", help="a .racv file to describe (header, per-frame bits, side-info share)")
    p.add_argument("--frames", action="store_true", help="with FILE: list every frame")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def describe(path) -> dict:
    """Header and per-frame sizes of a .racv file (reads it as a stream; damaged packets are listed)."""
    import os

    from ..container import PACKET_OVERHEAD, Reader

    frames = []
    with Reader(path, skip_damaged=True) as r:
        h = r.header
        for p in r:
            frames.append({"index": p.index, "pts": p.pts, "quality": p.quality, "payload_bytes": len(p.payload),
                           "side_info_bytes": len(p.side_info), "bits": 8 * (len(p.payload) + len(p.side_info)
                                                                                + PACKET_OVERHEAD)})
        damaged = sorted(getattr(r, "damaged", []))
        has_index = r.has_index
    n = len(frames)
    size = os.path.getsize(path)
    pay = sum(f["payload_bytes"] for f in frames)
    side = sum(f["side_info_bytes"] for f in frames)
    fps = h.fps_num / h.fps_den
    return {"file": str(path), "bytes": size, "model": h.model, "weights_hash": h.weights_hash, "width": h.width,
            "height": h.height, "fps": fps, "color": h.color, "settings": h.settings, "frames": n,
            "has_index": has_index, "damaged_frames": damaged,
            "kbps": 8 * size / 1000 / (n / fps) if n else None,
            "bpp": 8 * size / (n * h.width * h.height) if n else None,
            "bytes_split": {"payload": pay, "side_info": side, "headers": size - pay - side},
            "side_info_share": side / size if size else None, "per_frame": frames}


def run(args):
    if args.file:
        import json

        d = describe(args.file)
        if args.json:
            print(json.dumps(d if args.frames else {k: v for k, v in d.items() if k != "per_frame"}, indent=2))
            return 3 if d["damaged_frames"] else 0
        b = d["bytes_split"]
        print(f"{d['file']}: {d['frames']} frames {d['width']}x{d['height']} @ {d['fps']:.4g} fps, model {d['model']} "
              f"({d['weights_hash'][:16]}), {d['bytes']} bytes"
              + (f", {d['kbps']:.1f} kbit/s, {d['bpp']:.4f} bpp" if d["frames"] else ""))
        print(f"  bytes: payload {b['payload']}, side info {b['side_info']} ({100 * (d['side_info_share'] or 0):.1f} %), "
              f"headers/index {b['headers']}; index {'present' if d['has_index'] else 'absent'}")
        print(f"  settings: {json.dumps(d['settings'])}")
        if d["damaged_frames"]:
            print(f"  damaged frames: {d['damaged_frames']}")
        if args.frames:
            for f in d["per_frame"]:
                print(f"  frame {f['index']:5d} pts {f['pts']:6d} q {f['quality']:2d} bits {f['bits']:8d} "
                      f"(side info {8 * f['side_info_bytes']})")
        return 3 if d["damaged_frames"] else 0
    from .. import info

    return info.main(["--json"] if args.json else [])
