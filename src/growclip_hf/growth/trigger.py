"""When to consider growing: at every chunk (GrowCLIP's loop), or only once the current model has stopped learning.

The ``plateau`` trigger reads the previous stage's training losses (one per step). It compares the mean loss of the
first and second half of the stage's last ``tail`` share of steps: if the loss still fell by more than ``min_drop``
(relative), the model is still learning at its size, so the stage keeps it and spends nothing on a search. Otherwise
the policy decides as usual. The tail sits at the end of the stage, where the learning rate has decayed, so a model
that still improves there has capacity left; one that is flat has used it.

That reading is confounded: a training loss falls with a decaying learning rate and with memorised replay, whatever
the capacity. The ``slope`` trigger reads the learning curve instead: the held-out loss of the previous stage's new
chunk, measured at a few points of the stage's stable part (a warmup-stable-decay schedule holds the rate there),
against the run's cumulative training FLOPs. It fits ``loss = a + b * ln(FLOPs)`` and fires when the loss falls by
no more than ``min_gain`` (relative) per doubling of compute: the model learns too little per FLOP at its size.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

TRIGGERS = ("every", "plateau", "slope")
MIN_POINTS = 8  # fewer losses than this say nothing about a slope; the policy then decides as usual
MIN_CURVE_POINTS = 3  # held-out readings a slope needs


@dataclass(frozen=True)
class GrowthTrigger:
    name: str = "every"
    tail: float = 0.5
    min_drop: float = 0.03
    min_gain: float = 0.01  # slope: relative fall of the held-out loss per doubling of compute below which it fires

    def __post_init__(self):
        if self.name not in TRIGGERS:
            raise ValueError(f"growth.trigger must be one of {TRIGGERS}, got {self.name!r}.")
        if not 0.0 < self.tail <= 1.0:
            raise ValueError(f"growth.plateau_tail must be in (0, 1], got {self.tail}.")
        if self.min_drop < 0.0:
            raise ValueError(f"growth.plateau_min_drop must be at least 0, got {self.min_drop}.")
        if self.min_gain < 0.0:
            raise ValueError(f"growth.slope_min_gain must be at least 0, got {self.min_gain}.")

    def reading(self, losses: Sequence[float] | None, curve: Sequence[Sequence[float]] | None = None) -> dict:
        """``{"trigger", "fire", "reason", ...}``: whether the policy should decide at this boundary, and why.

        ``losses``: the previous stage's training loss per step (plateau); ``curve``: its ``(cumulative training
        FLOPs, held-out loss)`` readings on the stable part (slope).
        """
        if self.name == "every":
            return {"trigger": "every", "fire": True, "reason": "growth is considered at every chunk"}
        if self.name == "slope":
            return self._slope_reading(curve)
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

    def _slope_reading(self, curve) -> dict:
        points = [(math.log(flops), loss) for flops, loss in (curve or []) if flops > 0]
        if len(points) < MIN_CURVE_POINTS or len({x for x, _ in points}) < 2:
            reason = f"only {len(points)} held-out readings (need {MIN_CURVE_POINTS}); the policy decides"
            return {"trigger": "slope", "fire": True, "reason": reason, "points": len(points)}
        mean_x = statistics.fmean(x for x, _ in points)
        mean_y = statistics.fmean(y for _, y in points)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
        gain = -slope * math.log(2) / mean_y if mean_y > 0 else 0.0
        fire = gain <= self.min_gain
        verb = "learning curve flat" if fire else "still learning"
        reason = f"{verb}: held-out loss falls {100 * gain:.1f}% per doubling of compute on the stable part"
        reason += f" (threshold {100 * self.min_gain:.1f}%)"
        record = {"trigger": "slope", "fire": fire, "reason": reason, "points": len(points), "gain_per_doubling": gain}
        return {**record, "curve": [list(point) for point in curve]}
