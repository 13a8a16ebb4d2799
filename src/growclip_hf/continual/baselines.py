"""The baselines: SeqF (plain fine-tuning, the lower bound), JointT (replay everything, the upper bound) and ER
(a reservoir of old pairs mixed into the new chunk). They differ only in what the data plan streams."""

from __future__ import annotations

from .base import ContinualStrategy


class SequentialFineTuning(ContinualStrategy):
    name = "seqf"
    replay = "none"


class JointTraining(ContinualStrategy):
    name = "jointt"
    replay = "all"


class ExperienceReplay(ContinualStrategy):
    name = "er"
    replay = "reservoir"

    def __init__(self, buffer_size: int = 1000):
        self.buffer_size = buffer_size
