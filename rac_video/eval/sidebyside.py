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
    imp = np.asarray(importance, np.float32)
    if imp.ndim == 2:
        imp = np.broadcast_to(imp, src.shape[:3])
    frames = (compose(src[t], baseline[t], None if ours is None else ours[t], imp[t], tuple(labels) + ("importance",))
              for t in range(len(src)))
    return write_video(path, frames, fps, crf=crf)


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)       # Pillow's bundled font (FreeType), nothing downloaded
    except TypeError:  # pragma: no cover - Pillow < 10.1: the fixed bitmap font
        return ImageFont.load_default()


def annotate(panel, lines, *, gaze=None, radius_px=None, font_size=14):
    """A copy of ``panel`` (H,W,3 uint8) with text ``lines`` on a dark band at the top left and, when
    ``gaze`` (x, y) is finite, the gaze point: a cross, and a circle of ``radius_px`` (the fovea)."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(np.ascontiguousarray(panel))
    d = ImageDraw.Draw(im)
    if gaze is not None and np.all(np.isfinite(gaze)):
        x, y = float(gaze[0]), float(gaze[1])
        for w, col in ((3, (0, 0, 0)), (1, (255, 255, 0))):
            if radius_px:
                d.ellipse((x - radius_px, y - radius_px, x + radius_px, y + radius_px), outline=col, width=w)
            d.line((x - 7, y, x + 7, y), fill=col, width=w)
            d.line((x, y - 7, x, y + 7), fill=col, width=w)
    f = _font(font_size)
    y0 = 2
    for text in lines:
        box = d.textbbox((4, y0), text, font=f)
        d.rectangle((0, y0 - 2, box[2] + 4, box[3] + 2), fill=(0, 0, 0))
        d.text((4, y0), text, fill=(255, 255, 255), font=f)
        y0 = box[3] + 4
    return np.asarray(im)


def grid(panels, cols=2):
    """Panels of one size tiled row by row into one image (missing cells black)."""
    h, w = panels[0].shape[:2]
    rows = -(-len(panels) // cols)
    out = np.zeros((rows * h, cols * w, 3), np.uint8)
    for i, p in enumerate(panels):
        r, c = divmod(i, cols)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = p
    return out


def write_video(path, frames, fps, *, crf=18):
    """Frames (uint8 RGB, one size; any iterable) to an H.264 mp4 through ``io.VideoWriter`` (cropped to even
    sizes for 4:2:0)."""
    from ..io import VideoWriter

    frames = iter(frames)
    first = next(frames)
    H, W = first.shape[0] - first.shape[0] % 2, first.shape[1] - first.shape[1] % 2
    with VideoWriter(path, W, H, Fraction(fps).limit_denominator(1001), crf=crf, preset="fast") as w:
        w.write(first[:H, :W])
        for fr in frames:
            w.write(fr[:H, :W])
    return path


def crop_box(center, size, frame_hw):
    """(x0, y0, x1, y1) of a ``size``×``size`` window centred on ``center``, shifted inside the frame."""
    H, W = frame_hw
    s = min(size, H, W)
    x0 = int(round(center[0] - s / 2))
    y0 = int(round(center[1] - s / 2))
    x0, y0 = min(max(x0, 0), W - s), min(max(y0, 0), H - s)
    return x0, y0, x0 + s, y0 + s


def periphery_box(src, importance, size, *, below=0.5):
    """A ``size``×``size`` window in the periphery worth looking at: among windows on a grid whose
    importance stays below ``below`` (else: the lowest-importance quarter of them), the one with the
    most detail in ``src`` (mean absolute gradient)."""
    H, W = src.shape[:2]
    g = src.astype(np.float32).mean(-1)
    grad = np.abs(np.diff(g, axis=0))[:, :-1] + np.abs(np.diff(g, axis=1))[:-1]
    s = min(size, H, W)
    step = max(8, s // 4)
    cands = []
    for y0 in range(0, H - s + 1, step):
        for x0 in range(0, W - s + 1, step):
            imp = float(np.max(importance[y0:y0 + s, x0:x0 + s]))
            det = float(grad[y0:min(y0 + s, H - 1), x0:min(x0 + s, W - 1)].mean())
            cands.append((imp, det, (x0, y0, x0 + s, y0 + s)))
    ok = [c for c in cands if c[0] < below]
    if not ok:
        cands.sort(key=lambda c: c[0])
        ok = cands[:max(1, len(cands) // 4)]
    return max(ok, key=lambda c: c[1])[2]


def zoom_still(panels, labels, fovea_box, periphery_box_, *, gaze=None, radius_px=None, width=288):
    """One picture: a column per coding — the whole frame (shrunk to ``width``) with both zoom boxes
    marked, then the fovea window and the periphery window side by side, each enlarged to
    ``width``/2 pixels (nearest neighbour, so coding artefacts stay visible; a box of ``width``/4
    pixels is a 2× zoom). ``labels``: one list of text lines per column."""
    from PIL import Image, ImageDraw

    cols = []
    for panel, lines in zip(panels, labels):
        H, W = panel.shape[:2]
        im = Image.fromarray(annotate(panel, [], gaze=gaze, radius_px=radius_px))
        d = ImageDraw.Draw(im)
        for (x0, y0, x1, y1), col in ((fovea_box, (255, 255, 0)), (periphery_box_, (0, 220, 255))):
            d.rectangle((x0, y0, x1 - 1, y1 - 1), outline=col, width=3)
        k = width / W
        top = np.asarray(im.resize((width, int(round(H * k))), Image.Resampling.LANCZOS))
        zooms = []
        for (x0, y0, x1, y1), name, col in ((fovea_box, "fovea", (255, 255, 0)),
                                            (periphery_box_, "periphery", (0, 220, 255))):
            z = Image.fromarray(np.ascontiguousarray(panel[y0:y1, x0:x1]))
            side = width // 2
            z = z.resize((side, side), Image.Resampling.NEAREST)
            zd = ImageDraw.Draw(z)
            zd.rectangle((0, 0, side - 1, side - 1), outline=col, width=2)
            zooms.append(annotate(np.asarray(z), [name], font_size=12))
        col = np.concatenate([annotate(top, lines, font_size=13), np.concatenate(zooms, axis=1)], axis=0)
        cols.append(col)
    sep = np.full((cols[0].shape[0], 4, 3), 255, np.uint8)
    out = []
    for i, c in enumerate(cols):
        if i:
            out.append(sep)
        out.append(c)
    return np.concatenate(out, axis=1)
