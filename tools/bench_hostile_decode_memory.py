"""Peak memory of ``rac-video decode --skip-damaged`` on a hostile file: a valid header declaring
W×H and one 744-byte frame whose payload header is self-consistent (garbage after it), with
constant-level side info. Shows how decode memory scales with the declared frame size, which the
container caps (16384 per side, 7680×4320 pixels).

    python tools/bench_hostile_decode_memory.py 416x240 1920x1080 3840x2160

Needs the shipped model and GNU /usr/bin/time. Prints peak RSS per size and the model-load baseline.
"""
import os
import re
import subprocess
import sys
import tempfile



def make(path, W, H):
    import numpy as np

    from rac_video.codec import weights
    from rac_video.codec.model import load_model
    from rac_video.container import Header, Packet, Writer
    from rac_video.importance import sideinfo

    name = weights.DEFAULT_MODEL
    c = load_model(name)
    side = sideinfo.RasterLevels(np.full(c.latent_hw(H, W), 15, np.uint8), 16).to_bytes()
    n = c._hdr.size
    k = len(c._hdr.unpack(bytes(n))) - 2   # length fields after (version, steps)
    payload = c._hdr.pack(c.payload_version, 1, *([(744 - n) // (k + 1)] * k)) + os.urandom(744 - n)
    h = Header(name, weights.read_record(name)["sha256"], W, H, 25, 1, settings={"seed": 0, "steps": 1, "levels": 16})
    with Writer(path, h) as w:
        w.write(Packet(0, 0, 8, side, payload))


def peak_kb(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "PEAK %M"] + cmd, capture_output=True, text=True)
    return int(re.search(r"PEAK (\d+)", r.stderr).group(1)), r.returncode


def main(argv):
    sizes = [tuple(int(v) for v in s.split("x")) for s in (argv or ["416x240", "1920x1080"])]
    base, _ = peak_kb([sys.executable, "-c", "from rac_video.codec.model import load_model; load_model()"])
    print(f"baseline (python + torch + model): {base / 1024:.0f} MiB")
    with tempfile.TemporaryDirectory() as d:
        for W, H in sizes:
            f = os.path.join(d, f"h{W}x{H}.racv")
            make(f, W, H)
            kb, rc = peak_kb([sys.executable, "-m", "rac_video.cli", "decode", f, "-o", os.path.join(d, "o.mkv"),
                              "--lossless", "--skip-damaged", "--no-progress"])
            print(f"{W}x{H}: peak {kb / 1024:.0f} MiB, exit {rc}, {(kb - base) * 1024 / (W * H):.0f} bytes per "
                  "declared pixel above the baseline")


if __name__ == "__main__":
    main(sys.argv[1:])
