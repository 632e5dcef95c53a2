"""Data-parallel training under ``torchrun`` (docs/scaling.md).

``rac-video train`` (and ``python -m rac_video.codec.train``) runs unchanged under
``torchrun --nproc_per_node N``: torchrun's environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``,
``MASTER_ADDR`` / ``MASTER_PORT``) starts a process group here — NCCL when the process trains on CUDA
(one GPU per local rank), gloo on the CPU. Every rank starts from rank 0's weights, draws its own batches
(the stage's random generators are offset by the rank, so the data is sharded by random stream: rank 0
draws exactly what a single process would), and after each backward pass the gradients are averaged
over the ranks before clipping and the optimizer step — the synchronisation DistributedDataParallel
performs, done here as one flattened all-reduce per step so that it also covers modules the stages call
through methods other than ``forward`` (the hyperprior's analysis / synthesis). The ranks therefore stay
bit-identical; the effective batch is N × ``--batch``. The stop decision (time budget / steps) is rank
0's, broadcast every step. Only rank 0 writes checkpoints and logs; at the end the ranks compare a
checksum of their weights, recorded in the checkpoint (``extra["ddp"]``).

Without torchrun (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) every function here is a no-op.
"""
from __future__ import annotations

import os

import torch

_STATE = {"on": False, "rank": 0, "world": 1}


def world_size() -> int:
    return _STATE["world"]


def rank() -> int:
    return _STATE["rank"]


def is_main() -> bool:
    return _STATE["rank"] == 0


def enabled() -> bool:
    return _STATE["on"]


def setup(device: str | None) -> str | None:
    """Start the process group when launched by torchrun with WORLD_SIZE > 1; returns the device this
    rank should use (``cuda:LOCAL_RANK`` on a GPU node unless one was given)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return device
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = (device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if cuda:
        device = device if device and ":" in device else f"cuda:{local}"
        torch.cuda.set_device(torch.device(device))
    else:
        device = device or "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    _STATE.update(on=True, rank=dist.get_rank(), world=dist.get_world_size())
    return device


def teardown() -> None:
    if _STATE["on"]:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
        _STATE.update(on=False, rank=0, world=1)


def seed_offset(seed: int) -> int:
    """A rank's seed for a per-rank random stream: ``seed`` on rank 0 (what one process draws)."""
    return seed + 1_000_003 * _STATE["rank"]


def barrier() -> None:
    if _STATE["on"]:
        import torch.distributed as dist

        dist.barrier()


def broadcast_modules(modules) -> None:
    """Every rank takes rank 0's parameters and buffers (as DDP does at construction)."""
    if not _STATE["on"]:
        return
    import torch.distributed as dist

    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            with torch.no_grad():
                dist.broadcast(t.data, src=0)


def average_gradients(params) -> None:
    """Mean of the gradients over the ranks, one flattened all-reduce (call after backward)."""
    if not _STATE["on"]:
        return
    import torch.distributed as dist

    params = [p for p in params if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1).float() for g in grads])
    dist.all_reduce(flat)
    flat /= _STATE["world"]
    i = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[i:i + n].view_as(g).to(g.dtype)
        i += n


def agree(flag: bool) -> bool:
    """Rank 0's value of ``flag`` on every rank (e.g. whether to keep training)."""
    if not _STATE["on"]:
        return flag
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0], dtype=torch.int32,
                     device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.broadcast(t, src=0)
    return bool(t.item())


def checksums(modules) -> list[float] | None:
    """Per-rank checksum of the parameters (a float64 sum of |w| and a position-weighted sum), gathered
    on every rank; None without a process group."""
    if not _STATE["on"]:
        return None
    import torch.distributed as dist

    with torch.no_grad():
        flat = torch.cat([p.detach().reshape(-1).double().cpu() for m in modules for p in m.parameters()])
        w = torch.arange(1, flat.numel() + 1, dtype=torch.float64) / flat.numel()
        mine = torch.stack([flat.abs().sum(), (flat * w).sum()])
    dev = "cuda" if dist.get_backend() == "nccl" else "cpu"
    out = [torch.zeros(2, dtype=torch.float64, device=dev) for _ in range(_STATE["world"])]
    dist.all_gather(out, mine.to(dev))
    return [[float(v) for v in t.cpu()] for t in out]
