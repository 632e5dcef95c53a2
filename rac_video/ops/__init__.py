"""rac_video.ops: per-element kernels with a torch reference and C++/CUDA/Triton backends.

See ``_dispatch`` for how a backend is chosen or forced, and ``rac-video info`` for what loaded.
"""
from ._dispatch import (BACKENDS, BackendUnavailable, Op, backend_reason, registered_ops,  # noqa: F401
                        use_backend)
from .dither import hashed_dither, hashed_dither_reference, mix32  # noqa: F401
