"""Our codec as an evaluation method, with the same Encoded/decode interface as the baselines.

Per frame: importance map -> latent level map (``rac_video.importance.sideinfo.levels_from_importance``,
sent as ``RasterLevels`` side info; on gaze sequences the parametric ``FoveatedGaze`` side info) ->
``Codec.encode_frame`` at an integer quality. Every byte is counted as the .racv container stores it
(stream header + one packet per frame with its side info and payload, ``rac_video.container``).
``uniform=True`` is our codec with a uniform map (every latent
at the top level: no region adaptivity), a baseline of its own. ``realism=ρ`` decodes the same
bitstreams with the decoder's realism control (``Codec.decode_frame(realism=ρ)``; 0 = the fidelity
decode): same bytes, another picture ("ours-realism" in the harness); ``OursEncoded.decode(realism=ρ)``
decodes one encoding in any mode.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

from .baselines import BaselineError, Encoded


class OursEncoded(Encoded):
    """An encoding of ours: ``decode(realism=None)`` decodes it with the method's ρ or the one given."""

    def decode(self, realism=None) -> np.ndarray:
        return self._decode(realism)


def supports_realism(model) -> bool:
    """Whether this codec's decoder takes the realism control (``decode_frame(..., realism=ρ)``)."""
    import inspect

    return "realism" in inspect.signature(model.decode_frame).parameters


def available() -> tuple:
    """(True, "") when the codec, side info and container modules import; else (False, reason)."""
    try:
        from ..codec import load_model  # noqa: F401
        from ..importance.sideinfo import RasterLevels, from_bytes, levels_from_importance  # noqa: F401
    except ImportError as e:  # a module of another helper not there yet
        return False, f"{type(e).__name__}: {e}"
    return True, ""


class OursMethod:
    decreasing = False  # higher quality -> more bytes
    integer = True
    param_name = "quality"

    def __init__(self, *, model=None, uniform=False, levels=16, seed=0, steps=None, fps=25, realism=0.0, gop=1,
                 hold=True, skip_tol=None):
        """``model``: a shipped model name (``rac_video/weights/`` or $RAC_VIDEO_WEIGHTS); None or
        "default": the codec's default model. ``gop`` > 1: an intra frame every ``gop`` frames and P-frames
        (``rac_video.codec.inter``, a model with a temporal prior) between them ("ours-p"); ``hold``: P-frames keep
        the reference's reconstruction where their levels repeat it (``inter.reconstruct``)."""
        ok, why = available()
        if not ok:
            raise BaselineError(f"our codec is not available: {why}")
        from ..codec import load_model

        try:
            self.model = load_model() if model in (None, "default") else load_model(str(model))
        except (FileNotFoundError, ValueError) as e:  # ModelMismatchError: weights not installed / bad hash
            raise BaselineError(f"our codec's model is not available: {e}") from e
        self.uniform = bool(uniform)
        self.realism = float(realism)
        if not 0.0 <= self.realism <= 1.0:
            raise BaselineError(f"realism must be in [0, 1], got {realism!r}")
        if self.realism and not supports_realism(self.model):
            raise BaselineError("this codec's decoder has no realism control (decode_frame(realism=...))")
        self.levels = int(levels)
        self.seed = int(seed)
        self.steps = steps
        self.fps = Fraction(fps).limit_denominator(1001)
        self.gop = int(gop)
        self.hold = bool(hold)
        self.skip_tol = skip_tol     # P-frames: the encoder's skip tolerance (codec.inter.encode_p; None: default)
        if self.gop < 1:
            raise BaselineError(f"gop must be at least 1, got {gop}")
        if self.gop > 1 and getattr(self.model, "temporal", None) is None:
            raise BaselineError(f"model {self.model.name} has no temporal prior: gop {self.gop} needs one")
        self.name = ("ours-uniform" if uniform else ("ours-realism" if self.realism else "ours")) + \
            ("-p" if self.gop > 1 else "")
        from .. import schedule

        self.lo, self.hi = 0.0, float(schedule.Q_MAX)
        self.start = round((self.lo + self.hi) / 2)

    def describe(self) -> dict:
        return {"name": self.name, "model": self.model.name, "weights_hash": self.model.weights_hash,
                "uniform": self.uniform, "realism": self.realism, "levels": self.levels, "seed": self.seed,
                "steps": self.steps, "gop": self.gop, "hold": self.hold, "skip_tol": self.skip_tol,
                "param": self.param_name}

    def encode(self, frames, importance=None, param=None, *, gaze=None) -> Encoded:
        """``gaze``: optional (fixations (T,2), Display, foveation params dict) — then the side info is
        the parametric ``FoveatedGaze`` (what a gaze-driven stream sends) instead of a level raster."""
        from ..importance.sideinfo import FoveatedGaze, RasterLevels, from_bytes, levels_from_importance

        f = np.asarray(frames)
        if f.ndim != 4 or f.dtype != np.uint8 or f.shape[-1] != 3:
            raise BaselineError(f"frames must be uint8 (T,H,W,3), got {f.dtype} {f.shape}")
        T, H, W, _ = f.shape
        q = int(round(self.start if param is None else param))
        hw = tuple(self.model.latent_hw(H, W))
        if self.uniform or importance is None:
            imp = np.ones((T, H, W), np.float32)
        else:
            imp = np.asarray(importance, dtype=np.float32)
            if imp.ndim == 2:
                imp = np.broadcast_to(imp, (T, H, W))
        from ..container import Header, Packet

        settings = {"eval": True, "levels": self.levels, "seed": self.seed, "steps": self.steps}
        total = len(Header(self.model.name, self.model.weights_hash, W, H, self.fps.numerator, self.fps.denominator,
                           settings=settings).to_bytes())
        from ..codec import inter

        packets = []
        seq = inter.SequenceEncoder(self.model, gop=self.gop, seed=self.seed, dither_frame=0, steps=self.steps,
                                    skip_tol=self.skip_tol)
        use_gaze = gaze is not None and not self.uniform
        for t in range(T):
            if use_gaze:
                fix, display, params = gaze
                si = FoveatedGaze(np.asarray(fix[t], np.float64)[None], (H, W), params or None, display=display,
                                  n_levels=self.levels)
                lv = np.asarray(si.levels(hw), dtype=np.uint8)
            else:
                lv = np.asarray(levels_from_importance(imp[t], hw, levels=self.levels), dtype=np.uint8)
                si = RasterLevels(lv, n_levels=self.levels)
            side = si.to_bytes()
            fr = np.ascontiguousarray(f[t])
            payload, ref, _ = seq.encode(fr, lv, q, index=t)
            pk = Packet(index=t, pts=t, quality=q, side_info=side, payload=payload, stream_id=1,  # as a file stores it
                        ref=ref)
            total += len(pk.to_bytes())
            packets.append(pk)

        def decode(realism=None):
            rho = self.realism if realism is None else float(realism)
            if rho and not supports_realism(self.model):
                raise BaselineError("this codec's decoder has no realism control (decode_frame(realism=...))")
            dec = inter.SequenceDecoder(self.model, seed=self.seed, dither_frame=0, height=H, width=W,
                                        steps=self.steps, realism=rho, hold=self.hold)
            out = []
            for pk in packets:
                lv = from_bytes(pk.side_info).levels(hw)
                out.append(dec.decode(pk.payload, lv, pk.quality, index=pk.index, ref=pk.ref).frame)
            return np.stack(out)

        info = {"latent_hw": list(hw), "side_info": "gaze" if use_gaze else "raster", "container": True,
                "gop": self.gop, "payload_bytes": [len(pk.payload) for pk in packets],
                "side_info_bytes": sum(len(pk.side_info) for pk in packets)}
        return OursEncoded(nbytes=total, param=float(q), _decode=decode, info=info)
