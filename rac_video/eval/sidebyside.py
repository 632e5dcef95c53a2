"""Side-by-side videos for the eye: source | baseline | ours | importance overlay (H.264 via PyAV)."""
from __future__ import annotations

from fractions import Fraction

import numpy as np


def overlay(frame_u8, importance, color=(255, 64, 0), alpha=0.55):
    """The frame darkened where unimportant, tinted by importance (1 = full tint at alpha)."""
    f = frame_u8.astype(np.float32)
    m = np.clip(np.asarray(importance, np.float32), 0, 1)[..., None]
    tint = np.asarray(color, np.float32)
    out = f * (0.35 + 0.65 * m)
    out = out * (1 - alpha * m) + tint * (alpha * m)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _label(panel, text):
    try:
        from PIL import Image, ImageDraw
    except ImportError:  # pragma: no cover
        return panel
    im = Image.fromarray(panel)
    d = ImageDraw.Draw(im)
    d.rectangle((0, 0, 7 * len(text) + 6, 13), fill=(0, 0, 0))
    d.text((3, 1), text, fill=(255, 255, 255))
    return np.asarray(im)


def compose(src, baseline, ours, importance, labels=("source", "baseline", "ours", "importance")):
    """One (H, k*W, 3) frame from the panels that are present (ours may be None)."""
    panels = [(src, labels[0]), (baseline, labels[1])]
    if ours is not None:
        panels.append((ours, labels[2]))
    panels.append((overlay(src, importance), labels[3] if len(labels) > 3 else "importance"))
    return np.concatenate([_label(np.ascontiguousarray(p), t) for p, t in panels], axis=1)


def write_sidebyside(path, src, baseline, ours, importance, *, fps=25, labels=("source", "baseline", "ours"),
                     crf=16):
    """Write the side-by-side video of a whole sequence to ``path`` (mp4, H.264 at a high quality)."""
    import av

    T = len(src)
    imp = np.asarray(importance, np.float32)
    if imp.ndim == 2:
        imp = np.broadcast_to(imp, src.shape[:3])
    first = compose(src[0], baseline[0], None if ours is None else ours[0], imp[0], tuple(labels) + ("importance",))
    H, W = first.shape[:2]
    H2, W2 = H - H % 2, W - W % 2
    with av.open(path, "w") as c:
        st = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = W2, H2, "yuv420p"
        st.options = {"crf": str(crf), "preset": "fast"}
        for t in range(T):
            fr = first if t == 0 else compose(src[t], baseline[t], None if ours is None else ours[t], imp[t],
                                              tuple(labels) + ("importance",))
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(fr[:H2, :W2]), format="rgb24")
            for p in st.encode(vf):
                c.mux(p)
        for p in st.encode(None):
            c.mux(p)
    return path
