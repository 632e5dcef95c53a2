"""Triton kernels of rac_video (installed as ``rac_video.kernels``), one file per op family.

Each module holds ``@triton.jit`` kernels plus a launcher taking torch tensors that the op's
wrapper in ``rac_video.ops`` has already checked. Import lazily: ``triton.jit`` reads
``TRITON_INTERPRET`` at import time (set it to 1 to run these kernels on CPU tensors).
"""
import os


def block_size(gpu_block: int) -> int:
    """Larger blocks under the interpreter (fewer Python-level program instances)."""
    return max(gpu_block, 8192) if os.environ.get("TRITON_INTERPRET") == "1" else gpu_block
