"""Refuse a growth plan the model cannot follow before any training starts, in one line saying what to change.

Why: growth happens between stages, so an unbuildable schedule target or search candidate used to stop a run only
after a whole stage had trained. Every check here needs configs only (``validated_growth``), no weights.
"""

from __future__ import annotations

import copy

from ..models.growclip.growth_targets_growclip import INIT_MODES, validated_growth


def first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def check_schedule(config, schedule: list, init: str) -> None:
    """Each scheduled target, grown in turn from ``config``, must be buildable with ``init``."""
    if not isinstance(schedule, list):
        raise ValueError(
            f"growth.schedule must be a list of targets (one per stage after the first), got {schedule!r}."
        )
    for index, target in enumerate(schedule):
        if not target:
            continue
        try:
            config = validated_growth(config, target, init)[0]
        except ValueError as error:
            raise ValueError(
                f"growth.schedule[{index}] (the growth before stage {index + 1}) cannot grow this model: "
                f"{first_line(error)}"
            ) from None


def invalid_candidates(config, candidates, init: str) -> dict[str, str]:
    """Name -> one-line reason for every candidate that cannot be built from ``config`` with ``init``."""
    invalid = {}
    for candidate in candidates:
        if not candidate.target:
            continue
        try:
            validated_growth(config, candidate.target, init)
        except ValueError as error:
            invalid[candidate.name] = first_line(error)
    return invalid


def check_growth_plan(policy, config) -> None:
    """The schedule (``schedule``) or the growth space's first candidates (``auto``/``random``) against ``config``."""
    init = policy.search.init
    if init not in INIT_MODES:
        raise ValueError(f"growth.init must be one of {INIT_MODES}, got {init!r}.")
    if config.growth_ramp is not None:  # an open ramp may finish before the first growth: judge the shapes
        config = copy.deepcopy(config)
        config.growth_ramp = None
    if policy.name == "schedule":
        check_schedule(config, policy.schedule, init)
    elif policy.name in ("auto", "random"):
        invalid = invalid_candidates(config, policy.space.candidates(config), init)
        if invalid:
            name, reason = next(iter(invalid.items()))
            raise ValueError(
                f"growth.space proposes {name!r}, which cannot grow this model: {reason} "
                "(change that dimension's step in growth.space, or set it to 0 to leave it out)."
            )
