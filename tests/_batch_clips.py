"""Small synthetic clips (PNG folders) and gaze traces for the batch tests."""
from __future__ import annotations

import os

import numpy as np


def make_clip(folder, seed, frames=2, hw=(48, 64)):
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    H, W = hw
    yy, xx = np.mgrid[0:H, 0:W]
    base = np.stack([(xx * (3 + seed)) % 256, (yy * (5 + seed)) % 256, ((xx + yy) * 2) % 256], -1).astype(np.float64)
    for t in range(frames):
        im = np.clip(base + 8 * t + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(im).save(os.path.join(folder, f"f{t:03d}.png"))
    return str(folder)


def make_gaze(path, x, y, seconds=1.0):
    with open(path, "w") as f:
        f.write("t,x,y\n")
        for i in range(int(seconds * 250)):
            f.write(f"{i / 250:.4f},{x},{y}\n")
    return str(path)


def same_stream(path_a, path_b):
    """Two .racv files hold the same stream: equal size, header and packets (quality, side info, payload).
    Only the container's random stream id (format 2.0; every encode draws one, so two runs of
    rac-video encode differ by it too) may differ."""
    from rac_video.container import Reader

    assert os.path.getsize(path_a) == os.path.getsize(path_b)
    with open(path_a, "rb") as fa, open(path_b, "rb") as fb:
        ra, rb = Reader(fa), Reader(fb)
        assert ra.header == rb.header                                # stream_id is not compared
        pa = [(p.index, p.pts, p.quality, p.side_info, p.payload) for p in ra]
        pb = [(p.index, p.pts, p.quality, p.side_info, p.payload) for p in rb]
    assert pa == pb and pa
    return True
