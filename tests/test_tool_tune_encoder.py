"""tools/tune_encoder.py: RDOQ α × DDIM steps K × fusion c on real files, BD-rate against the first."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import tune_encoder  # noqa: E402


def test_sweep_measures_every_pair_on_real_files(tmp_path, image_folder):
    data = image_folder(176, 192)
    out = tmp_path / "tune.json"
    assert tune_encoder.main(["--rdoq", "0,1e9,2", "--steps", "2,1", "--fusion", "0,0.003", "--data", str(data),
                              "--qualities", "2,8", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    rows = {(r["rdoq"], r["steps"], r["fusion"], r["quality"]): r for r in res["rows"]}
    assert len(rows) == 3 * 2 * 2 * 2 and len(res["settings"]) == 12
    for q in (2, 8):
        # an α so large that no level moves writes the same file as RDOQ off
        assert rows[(1e9, 2, 0.0, q)] == {**rows[(0.0, 2, 0.0, q)], "rdoq": 1e9}
        # K is a header byte and c a decoder constant: the same size, another reconstruction
        assert rows[(2.0, 1, 0.0, q)]["bpp"] == rows[(2.0, 2, 0.0, q)]["bpp"] == rows[(2.0, 2, 0.003, q)]["bpp"]
        assert rows[(0.0, 2, 0.003, q)]["psnr"] != rows[(0.0, 2, 0.0, q)]["psnr"]
        assert rows[(2.0, 2, 0.0, q)]["bpp"] <= rows[(0.0, 2, 0.0, q)]["bpp"]
    first = res["settings"][0]
    assert (first["rdoq"], first["steps"], first["fusion"]) == (0.0, 2, 0.0)
    assert first["bd_rate_pct_vs_first"] == {"psnr": 0.0, "ms_ssim": 0.0}
    for bad in (["--rdoq", "a,b"], ["--rdoq", "-1"], ["--fusion", "nan"], ["--steps", "99"]):
        with pytest.raises(SystemExit):
            tune_encoder.main(bad)
