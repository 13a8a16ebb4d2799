"""Share the CPU cores between torch's intra-op threads and the data loader's worker processes.

Why: torch starts one compute thread per core by default, and every loader worker decodes images on a core too; on
a small or busy machine the two oversubscribe the cores and a step slows by an order of magnitude (a default-thread
process ran 2.7 s/step where ``OMP_NUM_THREADS=1`` ran 0.07 s/step on the same small config on a loaded 2-core
machine). A user's own ``OMP_NUM_THREADS`` always wins.
"""

from __future__ import annotations

import logging
import os

import torch

logger = logging.getLogger(__name__)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which containers and ``taskset`` narrow), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def torch_threads_for(loader_workers: int, processes_per_machine: int = 1, cores: int | None = None) -> int:
    """The cores one process's loader workers leave free: ``cores / processes - workers``, at least 1."""
    cores = available_cores() if cores is None else cores
    return max(1, cores // max(1, processes_per_machine) - max(0, loader_workers))


def choose_torch_threads(loader_workers: int, processes_per_machine: int | None = None) -> int:
    """Set torch's thread count against the loader workers unless ``OMP_NUM_THREADS`` is set; returns the count."""
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    if processes_per_machine is None:
        processes_per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = torch_threads_for(loader_workers, processes_per_machine)
    torch.set_num_threads(threads)
    logger.info("torch uses %d threads beside %d loader workers per process", threads, loader_workers)
    return threads
