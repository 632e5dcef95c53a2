"""Importance maps: where the bits go (docs/design.md §5, §3.6).

Modules (one concern each): ``gaze`` (eye-tracker readers, per-frame aggregation), ``foveation``
(display geometry and acuity), ``saliency`` (weight-free spectral residual, optional OpenCV, external
maps), ``roi`` (boxes, mask sequences, feathering), ``temporal`` (smoothing, saccade detection,
latency prediction), ``sideinfo`` (integer levels at latent resolution and their bytes), ``overlay``
(heat-map visualisation).
"""
