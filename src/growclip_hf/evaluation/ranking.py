"""Ranks of the correct answer, the one quantity every recall-style metric here is computed from.

Ties count against the model: a candidate scoring the same as the correct answer ranks above it. A model that maps
everything to one embedding therefore scores zero, not a perfect 100, and the result never depends on sort order.
"""

from __future__ import annotations

import torch


def true_class_ranks(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each row of ``logits [n, classes]``, how many other classes score at least as high as the true one.

    0 means a strict top-1 hit; rank < k means the true class is within the top k.
    """
    if logits.ndim != 2 or labels.ndim != 1 or logits.shape[0] != labels.shape[0]:
        raise ValueError(
            f"Expected logits [n, classes] and labels [n], got {tuple(logits.shape)} and {tuple(labels.shape)}."
        )
    true_scores = logits.gather(1, labels.long().unsqueeze(1))
    at_least_as_high = logits >= true_scores
    return at_least_as_high.sum(dim=1) - 1


def best_positive_ranks(scores: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """For each query row of ``scores [queries, candidates]``, the rank of its best-scoring positive candidate.

    The rank is the number of NEGATIVE candidates scoring at least as high as that positive: other positives never
    push it down, so "hit at k" means "some positive is within the top k", the CLIP papers' recall@k.
    """
    if scores.shape != positives.shape:
        raise ValueError(f"scores {tuple(scores.shape)} and positives {tuple(positives.shape)} differ in shape.")
    positives = positives.bool()
    if not bool(positives.any(dim=1).all()):
        raise ValueError("Every query needs at least one positive candidate.")
    best_positive = scores.masked_fill(~positives, float("-inf")).amax(dim=1, keepdim=True)
    return ((scores >= best_positive) & ~positives).sum(dim=1)
