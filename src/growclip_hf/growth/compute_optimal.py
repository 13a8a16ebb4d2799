"""Compute-optimal sizing: grow to the largest architecture that a stage's FLOP budget can still train well.

The best fixed size grows with the compute a chunk gets (compute-optimal scaling). A fixed-width sweep on a stream
(``benchmarks/precondition_map.py``) shows where a wider model starts to beat a narrower one at equal compute per
chunk: where the chunk's budget buys the wider model about ``r`` training pairs per parameter. The ``compute`` policy
decides from that ratio, not from a loss: before each stage it grows to the largest candidate that the stage's budget
trains on at least ``pairs_per_parameter`` pairs per parameter, and keeps the model when no growth candidate gets that
many. It runs no search, so a boundary that keeps costs nothing: on the growing-concepts stream the search's share of
each chunk is what kept ``auto`` behind the fixed widths (``docs/growth.md``, "The growth sweep").
"""

from __future__ import annotations

from collections.abc import Sequence

from ..models.growclip.growth_targets_growclip import grown_config
from .flops import parameter_count, training_flops_per_pair
from .space import Candidate


def pairs_per_parameter(config, stage_flops: float, text_tokens: int = 32, parameters: int | None = None) -> float:
    """Training pairs per parameter that ``stage_flops`` buys for ``config`` (``parameters``: its count, if known)."""
    parameters = parameter_count(config) if parameters is None else parameters
    return stage_flops / training_flops_per_pair(config, text_tokens) / parameters


def compute_optimal_choice(
    config, candidates: Sequence[Candidate], stage_flops: float, ratio: float, text_tokens: int = 32
) -> tuple[Candidate, list[dict]]:
    """The largest growth candidate trained on at least ``ratio`` pairs per parameter, else keep; and each reading.

    ``keep`` (empty target) is the current model and is chosen when no growth candidate qualifies (the model never
    shrinks, even when the budget is below its own ratio).
    """
    keep = next((c for c in candidates if not c.target), Candidate("keep", {}))
    choice, choice_params = keep, parameter_count(config)
    readings = []
    for candidate in candidates:
        grown = grown_config(config, candidate.target)[0] if candidate.target else config
        params = parameter_count(grown)
        pairs = pairs_per_parameter(grown, stage_flops, text_tokens, params)
        readings.append({"name": candidate.name, "parameters": params, "pairs_per_parameter": pairs})
        if candidate.target and pairs >= ratio and params > choice_params:
            choice, choice_params = candidate, params
    return choice, readings


def check_pairs_per_parameter(value) -> None:
    """``growth.pairs_per_parameter`` is a positive number; a one-line error otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(
            f"growth.pairs_per_parameter must be a positive number of training pairs per parameter, got {value!r}; "
            "read it from a fixed-width sweep on your stream (benchmarks/precondition_map.py), e.g. 1.0."
        )
