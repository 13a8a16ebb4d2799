"""Continual-learning summaries of a results matrix R[t, j] = metric of the checkpoint after task t on task j.

Formulas (0-based, T = last row): final average A = mean_j R[T, j] over the tasks seen by row T;
forgetting F = mean_{j<T} max_{t<T} (R[t, j] - R[T, j]); backward transfer BWT = mean_{j<T} (R[T, j] - R[j, j]).
"""

from __future__ import annotations

import numpy as np


def _as_matrix(results) -> np.ndarray:
    matrix = np.asarray(results, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError(f"Expected a non-empty 2-D results matrix, got shape {matrix.shape}.")
    return matrix


def final_average(results, num_seen: int | None = None) -> float:
    """Mean of the last row over its first ``num_seen`` tasks (all tasks when None)."""
    matrix = _as_matrix(results)
    return float(matrix[-1, : matrix.shape[1] if num_seen is None else num_seen].mean())


def forgetting(results, num_old: int | None = None) -> float | None:
    """Mean over old tasks j of the largest drop from any earlier checkpoint to the last one; None with one row.

    ``num_old`` is how many leading columns count as old tasks (default: one per earlier row, capped at the columns).
    """
    matrix = _as_matrix(results)
    last = matrix.shape[0] - 1
    if last == 0:
        return None
    columns = min(last, matrix.shape[1]) if num_old is None else num_old
    if columns == 0:
        return None
    drops = matrix[:last, :columns].max(axis=0) - matrix[last, :columns]
    return float(drops.mean())


def backward_transfer(results) -> float | None:
    """Mean over old tasks j of R[T, j] - R[j, j]: negative when learning later tasks hurt earlier ones."""
    matrix = _as_matrix(results)
    last = matrix.shape[0] - 1
    columns = min(last, matrix.shape[1])
    if columns == 0:
        return None
    diagonal = matrix[np.arange(columns), np.arange(columns)]
    return float((matrix[last, :columns] - diagonal).mean())


def continual_summary(results) -> dict[str, float | None]:
    """Final average over the tasks seen, forgetting and BWT, for a stage x task matrix (stage t learned task t)."""
    matrix = _as_matrix(results)
    seen = min(matrix.shape[0], matrix.shape[1])
    return {
        "final_average": final_average(matrix, num_seen=seen),
        "forgetting": forgetting(matrix),
        "backward_transfer": backward_transfer(matrix),
    }
