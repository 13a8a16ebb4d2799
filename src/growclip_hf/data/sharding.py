"""Give each training process its own part of a stream: no pair seen twice, none lost."""

from __future__ import annotations

import os

import datasets
from datasets.distributed import split_dataset_by_node


def process_rank_and_world_size(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """Explicit values win; else an initialised Accelerate state; else torchrun's RANK/WORLD_SIZE; else (0, 1)."""
    if rank is not None and world_size is not None:
        return int(rank), int(world_size)
    from accelerate.state import PartialState

    if PartialState._shared_state:  # only read it: creating one here could start a process group
        state = PartialState()
        return state.process_index, state.num_processes
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard_for_process(stream: datasets.IterableDataset, rank: int, world_size: int) -> datasets.IterableDataset:
    """This process's share: whole shards when their count divides ``world_size``, else every world_size-th row."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, {world_size}).")
    return stream if world_size == 1 else split_dataset_by_node(stream, rank=rank, world_size=world_size)
