"""The ops as torch-native operators: ``torch.ops.rac_video.<name>`` (torch.library custom ops).

Each elementwise op is registered with ``torch.library.custom_op`` — a schema, the real kernel (the
:class:`~rac_video.ops._dispatch.Op` dispatch, so every backend and ``use_backend`` keep working) and a
fake (meta) kernel that only computes output shapes and dtypes — so that ``torch.compile`` traces
through them (no graph break), ``torch.export`` can export them and, on a GPU, CUDA graphs can capture
them (the kernels run on torch's current stream and never sync; the delta-table value check happens
once per table, before capture, see ``_checks.delta_table_values``).

Calling ``rac_video.ops.quantize(...)`` inside a function compiled by ``torch.compile`` routes to
``torch.ops.rac_video.quantize`` automatically (``Op.__call__`` checks ``torch.compiler.is_compiling()``);
a backend forced by argument, ``use_backend`` or the environment is resolved at trace time and baked
into the graph. ``out=`` is honoured outside the op (a copy into ``out``).

``tests/test_library.py`` runs ``torch.library.opcheck`` (schema, fake kernel, dynamic shapes,
autograd registration) on every op and compiles a function that uses them.
"""
from __future__ import annotations

from typing import Optional

import torch

from .ddim import ddim_step as _ddim_step_op
from .dither import hashed_dither as _dither_op
from .embedding import gamma_embedding as _embedding_op
from .entropy_params import entropy_params as _entropy_op
from .noise import forward_noise as _noise_op
from .quantize import dequantize as _dequantize_op
from .quantize import quantize as _quantize_op

NS = "rac_video"


def _nchw(shape):
    shape = [int(s) for s in shape]
    return shape if len(shape) == 4 else [1, *shape]


# ---- quantize / dequantize ---------------------------------------------------------------------------------

@torch.library.custom_op(f"{NS}::quantize", mutates_args=())
def quantize_op(y: torch.Tensor, level: torch.Tensor, delta_table: torch.Tensor, seed: int, dither_frame: int,
                backend: Optional[str] = None) -> torch.Tensor:
    return _quantize_op(y, level, delta_table, seed, dither_frame, backend=backend)


@quantize_op.register_fake
def _(y, level, delta_table, seed, dither_frame, backend=None):
    return torch.empty_like(y, dtype=torch.int32, memory_format=torch.contiguous_format)


@torch.library.custom_op(f"{NS}::dequantize", mutates_args=())
def dequantize_op(k: torch.Tensor, level: torch.Tensor, delta_table: torch.Tensor, seed: int, dither_frame: int,
                  backend: Optional[str] = None) -> torch.Tensor:
    return _dequantize_op(k, level, delta_table, seed, dither_frame, backend=backend)


@dequantize_op.register_fake
def _(k, level, delta_table, seed, dither_frame, backend=None):
    return torch.empty_like(k, dtype=torch.float32, memory_format=torch.contiguous_format)


# ---- hashed dither -----------------------------------------------------------------------------------------

@torch.library.custom_op(f"{NS}::hashed_dither", mutates_args=())
def hashed_dither_op(shape: list[int], seed: int, dither_frame: int, device: torch.device, bits: bool = False,
                     backend: Optional[str] = None) -> torch.Tensor:
    return _dither_op(tuple(shape), seed, dither_frame, device=device, bits=bits, backend=backend)


@hashed_dither_op.register_fake
def _(shape, seed, dither_frame, device, bits=False, backend=None):
    return torch.empty(list(shape), dtype=torch.int32 if bits else torch.float32, device=device)


# ---- DDIM step, forward noise, γ embedding -----------------------------------------------------------------

@torch.library.custom_op(f"{NS}::ddim_step", mutates_args=())
def ddim_step_op(z: torch.Tensor, eps: torch.Tensor, gamma_from: torch.Tensor, gamma_to: torch.Tensor,
                 backend: Optional[str] = None) -> torch.Tensor:
    return _ddim_step_op(z, eps, gamma_from, gamma_to, backend=backend)


@ddim_step_op.register_fake
def _(z, eps, gamma_from, gamma_to, backend=None):
    return torch.empty_like(z, memory_format=torch.contiguous_format)


@torch.library.custom_op(f"{NS}::forward_noise", mutates_args=())
def forward_noise_op(y: torch.Tensor, gamma: torch.Tensor, uniform: Optional[torch.Tensor] = None,
                     seed: Optional[int] = None, dither_frame: int = 0, backend: Optional[str] = None) -> torch.Tensor:
    return _noise_op(y, gamma, uniform, seed=seed, dither_frame=dither_frame, backend=backend)


@forward_noise_op.register_fake
def _(y, gamma, uniform=None, seed=None, dither_frame=0, backend=None):
    return torch.empty_like(y, memory_format=torch.contiguous_format)


@torch.library.custom_op(f"{NS}::gamma_embedding", mutates_args=())
def gamma_embedding_op(gamma: torch.Tensor, dim: int = 32, backend: Optional[str] = None) -> torch.Tensor:
    return _embedding_op(gamma, dim, backend=backend)


@gamma_embedding_op.register_fake
def _(gamma, dim=32, backend=None):
    return gamma.new_empty((gamma.shape[0], dim, *gamma.shape[2:]))


# ---- entropy parameters ------------------------------------------------------------------------------------
# The schema has no optional outputs: without k, ``bits`` comes back as an empty float32 tensor and the
# Python entry turns it into None.

@torch.library.custom_op(f"{NS}::entropy_params", mutates_args=())
def entropy_params_op(mu: torch.Tensor, scale: torch.Tensor, level: torch.Tensor, delta_table: torch.Tensor,
                      seed: int, dither_frame: int, k: Optional[torch.Tensor] = None, mean_buckets: int = 1,
                      backend: Optional[str] = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    off, idx, bits = _entropy_op(mu, scale, level, delta_table, seed, dither_frame, k=k,
                                                   mean_buckets=mean_buckets, backend=backend)
    return off, idx, bits if bits is not None else mu.new_empty((0,))


@entropy_params_op.register_fake
def _(mu, scale, level, delta_table, seed, dither_frame, k=None, mean_buckets=1, backend=None):
    i32 = torch.empty_like(mu, dtype=torch.int32, memory_format=torch.contiguous_format)
    bits = torch.empty_like(mu, memory_format=torch.contiguous_format) if k is not None else mu.new_empty((0,))
    return i32, torch.empty_like(i32), bits


# ---- routing of the Python entry points while torch.compile traces -----------------------------------------

def _copy_out(res, out):
    return res if out is None else out.copy_(res)


def _quantize(y, level, delta_table, seed, dither_frame=0, *, out=None, backend=None):
    return _copy_out(quantize_op(y, level, delta_table, int(seed), int(dither_frame), backend), out)


def _dequantize(k, level, delta_table, seed, dither_frame=0, *, out=None, backend=None):
    return _copy_out(dequantize_op(k, level, delta_table, int(seed), int(dither_frame), backend), out)


def _hashed_dither(shape, seed, dither_frame=0, *, device=None, bits=False, out=None, backend=None):
    res = hashed_dither_op(list(shape), int(seed), int(dither_frame), torch.device(device or "cpu"), bool(bits),
                           backend)
    return _copy_out(res, out)


def _ddim_step(z, eps, gamma_from, gamma_to, *, out=None, backend=None):
    return _copy_out(ddim_step_op(z, eps, gamma_from, gamma_to, backend), out)


def _forward_noise(y, gamma, uniform=None, *, seed=None, dither_frame=0, out=None, backend=None):
    seed = None if seed is None else int(seed)
    return _copy_out(forward_noise_op(y, gamma, uniform, seed, int(dither_frame), backend), out)


def _gamma_embedding(gamma, dim=32, *, out=None, backend=None):
    return _copy_out(gamma_embedding_op(gamma, int(dim), backend), out)


def _entropy_params(mu, scale, level, delta_table, seed, dither_frame=0, *, k=None, out=None, mean_buckets=1,
                    backend=None):
    off, idx, bits = entropy_params_op(mu, scale, level, delta_table, int(seed), int(dither_frame), k,
                                       int(mean_buckets), backend)
    res = (off, idx, bits if k is not None else None)
    if out is None:
        return res
    return tuple(o.copy_(r) if o is not None else None for o, r in zip(out, res))


ROUTES = {_quantize_op: _quantize, _dequantize_op: _dequantize, _dither_op: _hashed_dither,
          _ddim_step_op: _ddim_step, _noise_op: _forward_noise, _embedding_op: _gamma_embedding,
          _entropy_op: _entropy_params}
for _op, _route in ROUTES.items():
    _op.library_call = _route

LIBRARY_OPS = {"quantize": quantize_op, "dequantize": dequantize_op, "hashed_dither": hashed_dither_op,
               "ddim_step": ddim_step_op, "forward_noise": forward_noise_op, "gamma_embedding": gamma_embedding_op,
               "entropy_params": entropy_params_op}
