"""The adapter of our codec, against small fakes of the codec / container / schedule modules and the
real side info (rac_video.importance.sideinfo), so that the byte accounting and the importance -> levels
path are tested without trained weights."""
import struct
import sys
import types

import numpy as np
import pytest

from rac_video import container, schedule
from rac_video.eval import metrics as M

sideinfo = pytest.importorskip("rac_video.importance.sideinfo")


class _Codec:
    name, weights_hash, factor = "fake", "ab" * 32, 8

    def latent_hw(self, H, W):
        return (H + 7) // 8, (W + 7) // 8

    def encode_frame(self, frame, levels, quality, *, seed, frame_index=0):
        assert frame_index == 0 and levels.dtype == np.uint8
        step = max(1, 64 - quality)
        q = (frame[::8, ::8] // step).astype(np.uint8)
        # more bits where levels are high: keep full detail there, drop it elsewhere
        q = np.where(np.kron(levels, np.ones((1, 1), np.uint8))[..., None] > 7, q, q // 2 * 2)
        return struct.pack("<B", step) + q.tobytes()

    def decode_frame(self, payload, levels, quality, *, seed, frame_index=0, height, width, steps=None):
        step = payload[0]
        h, w = self.latent_hw(height, width)
        q = np.frombuffer(payload[1:], np.uint8).reshape(h, w, 3)
        up = np.repeat(np.repeat(q.astype(np.int32) * step + step // 2, 8, 0), 8, 1)[:height, :width]
        return np.clip(up, 0, 255).astype(np.uint8)


@pytest.fixture
def fake_modules(monkeypatch):
    codec = types.ModuleType("rac_video.codec")
    codec.load_model = lambda name="default": _Codec()
    sched = types.ModuleType("rac_video.schedule")
    sched.Q_MAX = 63
    for name, mod in [("rac_video.codec", codec), ("rac_video.schedule", sched)]:
        monkeypatch.setitem(sys.modules, name, mod)


def test_ours_counts_every_byte_and_decodes(fake_modules):
    from rac_video.eval.ours import OursMethod, available

    assert available()[0]
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 40, 48, 3), dtype=np.uint8)
    imp = np.zeros((40, 48), np.float32)
    imp[:, :24] = 1
    ours = OursMethod()
    enc = ours.encode(frames, imp, 40)
    h, w = 5, 6
    side = len(sideinfo.RasterLevels(sideinfo.levels_from_importance(imp, (h, w))).to_bytes())
    per_packet = container.PACKET_OVERHEAD + side + (1 + h * w * 3)
    head = len(container.Header("fake", "ab" * 32, 48, 40, 25, 1, settings={"eval": True, "levels": 16, "seed": 0,
                                                                            "steps": None}).to_bytes())
    assert enc.nbytes == head + 3 * per_packet and enc.info["side_info_bytes"] == 3 * side
    rec = enc.decode()
    assert rec.shape == frames.shape and rec.dtype == np.uint8
    uni = OursMethod(uniform=True)
    assert uni.name == "ours-uniform"
    # same payload sizes in this fake; the constant raster is smaller side info
    assert uni.encode(frames, imp, 40).info["side_info_bytes"] < enc.info["side_info_bytes"]
    # the uniform map keeps detail everywhere: better on the right half than the ROI-encoded one
    right = np.zeros((40, 48), bool)
    right[:, 24:] = True
    assert M.psnr(frames, uni.encode(frames, imp, 40).decode(), right).mean() > M.psnr(frames, rec, right).mean()
    assert ours.describe()["weights_hash"] == "ab" * 32 and ours.hi == schedule.Q_MAX


def test_ours_gaze_side_info(fake_modules):
    from rac_video.eval.ours import OursMethod
    from rac_video.importance import foveation

    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (2, 64, 96, 3), dtype=np.uint8)
    disp = foveation.Display(0.02, 96, 64, 0.5)  # small, sharp display: importance falls off in the frame
    fix = np.array([[20.0, 30.0], [np.nan, np.nan]])
    enc = OursMethod().encode(frames, None, 40, gaze=(fix, disp, None))
    assert enc.info["side_info"] == "gaze"
    raster = OursMethod().encode(frames, np.ones((64, 96), np.float32), 40)
    assert enc.info["side_info_bytes"] > 0 and raster.info["side_info"] == "raster"
    assert enc.decode().shape == frames.shape


def test_ours_unavailable_is_a_clean_error(monkeypatch):
    from rac_video.eval import baselines as B
    from rac_video.eval import ours

    monkeypatch.setitem(sys.modules, "rac_video.codec", None)  # import fails like a missing module
    assert not ours.available()[0]
    with pytest.raises(B.BaselineError):
        ours.OursMethod()


def test_run_matches_baselines_to_our_sizes(fake_modules, tmp_path):
    from rac_video.eval import run as R

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_eval_run import _config, _write_clip

    fdir, mdir = _write_clip(tmp_path)
    cfg = _config(fdir, mdir, methods=["ours", "ours-uniform", "x264"], rates={"qualities": [20, 40, 56]})
    res = R.run_config(cfg, out_dir=str(tmp_path / "o"), log=lambda *a: None)
    ours = {e["target"]: e for e in res["entries"] if e["method"] == "ours"}
    assert set(ours) == {"q20", "q40", "q56"}
    for e in res["entries"]:
        if e["method"] == "x264":
            assert e["target_bytes"] == ours[e["target"]]["bytes"]
            assert e["matched"] or e["param"] in (0.0, 51.0)
    assert {r["anchor"] for r in res["bdrate"]} == {"ours-uniform", "x264"}
    assert all(r["reference"] == "ours" for r in res["bdrate"])
