"""Random importance maps for training (DESIGN §3.7): uniform, piecewise regions with sharp
edges, linear gradients, sums of Gaussian blobs and foveation-like radial falloffs, all in [0, 1].
"""
from __future__ import annotations

import torch

KINDS = ("uniform", "piecewise", "gradient", "blobs", "foveation")


def _grid(n, h, w, g):
    yy = (torch.arange(h, dtype=torch.float32) + 0.5) / h
    xx = (torch.arange(w, dtype=torch.float32) + 0.5) / w
    return yy.view(1, h, 1).expand(n, h, w), xx.view(1, 1, w).expand(n, h, w)


def random_importance(n: int, h: int, w: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n,1,h,w) float32 maps in [0, 1], each of a random kind."""
    g = generator
    out = torch.empty(n, 1, h, w)
    yy, xx = _grid(1, h, w, g)
    yy, xx = yy[0], xx[0]
    for i in range(n):
        kind = KINDS[int(torch.randint(len(KINDS), (1,), generator=g))]
        r = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
        if kind == "uniform":
            m = torch.full((h, w), float(r(1)))
        elif kind == "piecewise":
            m = torch.full((h, w), float(r(1)))
            for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
                y0, x0 = r(2)
                y1, x1 = y0 + r(1) * 0.7, x0 + r(1) * 0.7
                m[(yy >= y0) & (yy < y1) & (xx >= x0) & (xx < x1)] = float(r(1))
        elif kind == "gradient":
            a = float(r(1)) * 6.283
            proj = (xx - 0.5) * torch.cos(torch.tensor(a)) + (yy - 0.5) * torch.sin(torch.tensor(a))
            m = (proj - proj.min()) / (proj.max() - proj.min() + 1e-6)
        elif kind == "blobs":
            m = torch.zeros(h, w)
            for _ in range(int(torch.randint(1, 5, (1,), generator=g))):
                cy, cx = r(2)
                s = 0.05 + 0.3 * float(r(1))
                m = m + float(r(1)) * torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
            m = m.clamp(0, 1)
        else:  # foveation: radial falloff from a fixation, with a floor
            cy, cx = r(2)
            rad = ((yy - cy) ** 2 + (xx - cx) ** 2).sqrt()
            r0 = 0.05 + 0.2 * float(r(1))
            floor = 0.3 * float(r(1))
            m = floor + (1 - floor) * (r0 / (rad + r0)) ** 2
        out[i, 0] = m
    return out
