"""Differentiable quantized-Gaussian likelihood (training losses and rate estimates).

P(k) = Φ((k − m + ½)/s) − Φ((k − m − ½)/s) for a unit-width bin centred on k, computed on the
side of the mean where the difference of CDFs does not cancel (|k − m| reflected to the left).
Defined in ``rac_video.ops._gaussian`` (the entropy-parameter kernels compute the same bits).
"""
from ..ops._gaussian import LIKELIHOOD_FLOOR, gaussian_bits

__all__ = ["gaussian_bits", "LIKELIHOOD_FLOOR"]
