HELP = "what loaded (versions, native backends, per-op backend choice); with FILE.racv: describe the file"


def add_arguments(p):
    p.add_argument("file", nargs="?", help="a .racv file to describe (header, per-frame bits, side-info share)")
    p.add_argument("--frames", action="store_true", help="with FILE: list every frame")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def describe(path) -> dict:
    """Header and per-frame sizes of a .racv file, and a check of all of it: every packet (CRC, stream id,
    frame numbering), the index trailer against the packets, bytes after the end. ``damaged`` is True
    when anything is wrong; ``skipped`` lists the frames lost (as ``decode --skip-damaged`` would
    replace them), ``errors`` says what was found."""
    import os

    from ..container import FramePlan, Reader

    frames = []
    with Reader(path, skip_damaged=True) as r:
        h = r.header
        plan = FramePlan(r)
        for _, p in plan:
            if p is None:
                continue
            ext = len(p.to_bytes()) - len(p.payload) - len(p.side_info)  # this packet's framing bytes
            frames.append({"index": p.index, "pts": p.pts, "type": p.kind, "ref": p.ref, "quality": p.quality,
                           "payload_bytes": len(p.payload),
                           "side_info_bytes": len(p.side_info), "bits": 8 * (len(p.payload) + len(p.side_info) + ext)})
        skipped = sorted(plan.skipped, key=lambda e: e["frame"])
        damaged = sorted({e["frame"] for e in skipped})
        has_index = r.has_index
        check = {"damaged": plan.damaged, "skipped": skipped, "end_lost": plan.end_lost, "errors": plan.errors,
                 "index_error": r.index_error, "stream_id": f"{h.stream_id:08x}" if h.stream_id else None}
    n = len(frames)
    size = os.path.getsize(path)
    pay = sum(f["payload_bytes"] for f in frames)
    side = sum(f["side_info_bytes"] for f in frames)
    fps = h.fps_num / h.fps_den
    return {"file": str(path), "bytes": size, "model": h.model, "weights_hash": h.weights_hash, "width": h.width,
            "height": h.height, "fps": fps, "color": h.color, "settings": h.settings, "frames": n,
            "has_index": has_index, "damaged_frames": damaged, **check,
            "kbps": 8 * size / 1000 / (n / fps) if n else None,
            "bpp": 8 * size / (n * h.width * h.height) if n else None,
            "bytes_split": {"payload": pay, "side_info": side, "headers": size - pay - side},
            "p_frames": sum(f["type"] == "P" for f in frames),
            "side_info_share": side / size if size else None, "per_frame": frames}


def run(args):
    if args.file:
        import json

        d = describe(args.file)
        if args.json:
            print(json.dumps(d if args.frames else {k: v for k, v in d.items() if k != "per_frame"}, indent=2))
            return 3 if d["damaged"] else 0
        b = d["bytes_split"]
        print(f"{d['file']}: {d['frames']} frames {d['width']}x{d['height']} @ {d['fps']:.4g} fps, model {d['model']} "
              f"({d['weights_hash'][:16]}), {d['bytes']} bytes"
              + (f", {d['kbps']:.1f} kbit/s, {d['bpp']:.4f} bpp" if d["frames"] else ""))
        print(f"  bytes: payload {b['payload']}, side info {b['side_info']} ({100 * (d['side_info_share'] or 0):.1f} %), "
              f"headers/index {b['headers']}; index {'present' if d['has_index'] else 'absent'}")
        print(f"  settings: {json.dumps(d['settings'])}")
        if d["p_frames"]:
            print(f"  frames: {d['frames'] - d['p_frames']} intra (I), {d['p_frames']} predicted (P)")
        if d["damaged"]:
            print(f"  DAMAGED: {len(d['skipped'])} frame(s) lost {d['damaged_frames'][:50]}"
                  + (", frames after the last may be lost" if d["end_lost"] else ""))
            for e in d["errors"][:20]:
                print(f"  error: {e}")
        if args.frames:
            for f in d["per_frame"]:
                print(f"  frame {f['index']:5d} {f['type']}" + (f" ref {f['ref']:5d}" if f["ref"] is not None else " " * 10)
                      + f" pts {f['pts']:6d} q {f['quality']:2d} bits {f['bits']:8d} (side info {8 * f['side_info_bytes']})")
        return 3 if d["damaged"] else 0
    from .. import info

    return info.main(["--json"] if args.json else [])
