"""Compute recall@k from ranks through the package's local `evaluate` metric module (offline, loaded once)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch

RANK_RECALL_MODULE = Path(__file__).parent / "metric_modules" / "rank_recall"


@cache
def _rank_recall_metric():
    import evaluate

    return evaluate.load(str(RANK_RECALL_MODULE), keep_in_memory=True)  # no cache files, no cross-process locks


def recall_from_ranks(ranks: torch.Tensor, groups: torch.Tensor | None = None, ks=(1, 5, 10)) -> dict[str, float]:
    """``recall@k`` for each k and ``mean_group_recall`` (percent) from 0-based ranks of the correct answers."""
    ranks = ranks.detach().cpu().long()
    groups = torch.zeros_like(ranks) if groups is None else groups.detach().cpu().long()
    return _rank_recall_metric().compute(predictions=ranks.tolist(), references=groups.tolist(), ks=list(ks))
