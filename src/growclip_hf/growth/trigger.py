"""When to consider growing: at every chunk (GrowCLIP's loop), or only once the current model has stopped learning.

The ``plateau`` trigger reads the previous stage's training losses (one per step). It compares the mean loss of the
first and second half of the stage's last ``tail`` share of steps: if the loss still fell by more than ``min_drop``
(relative), the model is still learning at its size, so the stage keeps it and spends nothing on a search. Otherwise
the policy decides as usual. The tail sits at the end of the stage, where the learning rate has decayed, so a model
that still improves there has capacity left; one that is flat has used it.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

TRIGGERS = ("every", "plateau")
MIN_POINTS = 8  # fewer losses than this say nothing about a slope; the policy then decides as usual


@dataclass(frozen=True)
class GrowthTrigger:
    name: str = "every"
    tail: float = 0.5
    min_drop: float = 0.03

    def __post_init__(self):
        if self.name not in TRIGGERS:
            raise ValueError(f"growth.trigger must be one of {TRIGGERS}, got {self.name!r}.")
        if not 0.0 < self.tail <= 1.0:
            raise ValueError(f"growth.plateau_tail must be in (0, 1], got {self.tail}.")
        if self.min_drop < 0.0:
            raise ValueError(f"growth.plateau_min_drop must be at least 0, got {self.min_drop}.")

    def reading(self, losses: Sequence[float] | None) -> dict:
        """``{"trigger", "fire", "reason", ...}``: whether the policy should decide at this boundary, and why."""
        if self.name == "every":
            return {"trigger": "every", "fire": True, "reason": "growth is considered at every chunk"}
        values = list(losses or [])
        tail = values[-max(1, round(len(values) * self.tail)) :]
        if len(tail) < MIN_POINTS:
            reason = f"only {len(tail)} losses in the tail (need {MIN_POINTS}); the policy decides"
            return {"trigger": "plateau", "fire": True, "reason": reason, "points": len(tail)}
        half = len(tail) // 2
        before, after = statistics.fmean(tail[:half]), statistics.fmean(tail[half:])
        drop = (before - after) / before if before > 0 else 0.0
        fire = drop <= self.min_drop
        verb = "plateaued" if fire else "still learning"
        reason = f"{verb}: loss fell {100 * drop:.1f}% over the last {100 * self.tail:.0f}% of the previous stage"
        reason += f" (threshold {100 * self.min_drop:.1f}%)"
        return {"trigger": "plateau", "fire": fire, "reason": reason, "points": len(tail), "relative_drop": drop}
