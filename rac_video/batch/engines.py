"""Engines that run batch items: ``local`` (a process pool on this machine, the default) and ``ray``
(a Ray cluster: a local one started here, or an existing one via ``address``).

Both run ``tasks.run_item(item, threads)`` once per item with ``workers`` tasks at a time and torch
set to ``threads`` threads in each, and yield the result rows as the tasks finish. A worker that
dies (killed, out of memory) gives a "failed" row for its item; the others go on.
"""
from __future__ import annotations

import os

from . import tasks


def _crashed(item, exc, threads) -> dict:
    return {"id": item["id"], "status": "failed", "error": f"worker lost: {type(exc).__name__}: {exc}",
            "exit_code": 1, "threads": threads, "seconds": None}


def _worker_init(threads: int):
    _die_with_parent()
    os.environ["OMP_NUM_THREADS"] = str(threads)   # for libraries started later in this worker
    tasks.set_threads(threads)


def _die_with_parent():
    """Linux: a pool worker gets SIGTERM when the batch process dies (killed, not only interrupted), so
    no orphaned worker keeps encoding."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalEngine:
    """A pool of ``workers`` processes (spawned: no state shared with the caller), each with
    ``threads`` torch threads. ``workers`` = 1 runs the items one after another in one process."""

    name = "local"

    def __init__(self, workers: int, threads: int):
        self.workers, self.threads = max(1, int(workers)), max(1, int(threads))

    def describe(self) -> dict:
        return {"engine": self.name, "workers": self.workers, "threads": self.threads}

    def run(self, items):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        if not items:
            return
        ctx = mp.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(self.workers, len(items)), mp_context=ctx,
                                 initializer=_worker_init, initargs=(self.threads,)) as pool:
            futs = {pool.submit(tasks.run_item, it, self.threads): it for it in items}
            for f in as_completed(futs):
                try:
                    yield f.result()
                except Exception as exc:  # noqa: BLE001 - a broken pool fails the items it held
                    yield _crashed(futs[f], exc, self.threads)

    def close(self):
        pass


class RayEngine:
    """Ray tasks with ``num_cpus=threads`` each. Without ``address`` a local cluster is started with
    ``workers × threads`` CPUs (so ``workers`` tasks run at a time) and shut down by :meth:`close`;
    with ``address`` (``auto``, ``ray://host:10001``, ``host:6379``) the existing cluster's CPUs decide
    the concurrency, and every node needs rac_video installed with the same model weights."""

    name = "ray"

    def __init__(self, workers: int, threads: int, address: str | None = None):
        try:
            import ray
        except ImportError:
            from .items import BatchInputError

            raise BatchInputError("--engine ray needs Ray: pip install 'ray[default]' (or the rac_video[ray] "
                                  "extra)") from None
        self.ray = ray
        self.workers, self.threads, self.address = max(1, int(workers)), max(1, int(threads)), address
        self._started = False
        if not ray.is_initialized():
            env = {"env_vars": {"OMP_NUM_THREADS": str(self.threads)}}
            if address:
                ray.init(address=address, runtime_env=env, log_to_driver=False)
            else:
                ray.init(num_cpus=self.workers * self.threads, include_dashboard=False, runtime_env=env,
                         log_to_driver=False)
            self._started = True
        self._remote = ray.remote(num_cpus=self.threads, max_retries=0)(tasks.run_item)

    def describe(self) -> dict:
        res = self.ray.cluster_resources()
        return {"engine": self.name, "workers": self.workers, "threads": self.threads, "address": self.address,
                "cluster_cpus": res.get("CPU"), "nodes": len(self.ray.nodes())}

    def run(self, items):
        ray = self.ray
        refs = {self._remote.remote(it, self.threads): it for it in items}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for r in done:
                try:
                    yield ray.get(r)
                except Exception as exc:  # noqa: BLE001 - worker crash, node lost
                    yield _crashed(refs[r], exc, self.threads)

    def close(self):
        if self._started:
            self.ray.shutdown()
            self._started = False


def make_engine(name: str, workers: int, threads: int, address: str | None = None):
    if name == "local":
        if address:
            raise ValueError("--address is for --engine ray")
        return LocalEngine(workers, threads)
    if name == "ray":
        return RayEngine(workers, threads, address)
    raise ValueError(f"unknown engine {name!r} (local, ray)")


def default_workers_threads(workers: int | None, threads: int | None) -> tuple[int, int]:
    """Fill in workers / threads so that workers × threads = the cores (no oversubscription)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers is None and threads is None:
        return cores, 1
    if workers is None:
        return max(1, cores // int(threads)), int(threads)
    if threads is None:
        return int(workers), max(1, cores // int(workers))
    return int(workers), int(threads)
