"""Held-out loss against compute on a stage's stable part: what the ``slope`` growth trigger reads.

The loop reads the held-out loss of the stage's new chunk (the growth search's held-out pairs, never trained on) at a
few evenly spaced steps between the end of warmup and the start of the decay (a cosine schedule has no stable part:
there the whole stage after warmup is read), each time paired with the run's cumulative training FLOPs. The readings'
forward passes are counted as decision compute, inside a stage's FLOP budget when there is one.
"""

from __future__ import annotations

import math

from ..growth.flops import forward_flops_per_pair
from ..training.optimization import decay_start

CURVE_POINTS = 6


def reading_steps(steps: int, config, points: int = CURVE_POINTS) -> list[int]:
    """0-based steps after which the held-out loss is read: evenly spaced over the stable part of ``steps``."""
    first = min(config.warmup_steps, steps - 1)
    last = decay_start(steps, config.warmup_steps, config.decay_fraction) if config.lr_schedule == "wsd" else steps
    last = max(first, last - 1)
    if points <= 1 or last == first:
        return [last]
    return sorted({first + math.floor(i * (last - first) / (points - 1)) for i in range(points)})


def reading_flops(model_config, pairs: int, points: int = CURVE_POINTS) -> float:
    """Forward FLOPs of ``points`` readings of ``pairs`` held-out pairs."""
    return points * pairs * forward_flops_per_pair(model_config, 32)
