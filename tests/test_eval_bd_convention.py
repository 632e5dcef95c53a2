"""BD-rates the way the field reads them: per sequence, MS-SSIM on its dB scale (−10·log10(1 − MS-SSIM))."""
import math

import pytest

from rac_video.eval.bdrate import bd_rate
from rac_video.eval.results import BD_CONVENTION, bd_markdown, bd_table, ssim_db


def _entries(method, bpp, ms):
    return [{"sequence": "s", "method": method, "metrics": {"bpp": b, "ms_ssim": m, "psnr": 30 + 10 * math.log10(b)}}
            for b, m in zip(bpp, ms)]


def test_ms_ssim_bd_rate_is_computed_on_the_db_scale():
    bpp_a, ms_a = [0.05, 0.1, 0.2, 0.4], [0.90, 0.95, 0.975, 0.9875]
    bpp_b, ms_b = [0.06, 0.11, 0.21, 0.38], [0.905, 0.948, 0.976, 0.986]
    rows = bd_table(_entries("ref", bpp_b, ms_b) + _entries("x", bpp_a, ms_a), "s", "ref")
    got = rows[0]["ms_ssim"]
    want = bd_rate(bpp_a, [ssim_db(v) for v in ms_a], bpp_b, [ssim_db(v) for v in ms_b])
    linear = bd_rate(bpp_a, ms_a, bpp_b, ms_b)
    assert got == pytest.approx(want) and abs(got - linear) > 0.1
    assert ssim_db(0.99) == pytest.approx(20.0)
    assert BD_CONVENTION in bd_markdown({"bdrate": rows})
