"""Continual-learning strategies behind one interface (``ContinualStrategy``), selected by name."""

from .base import ContinualStrategy
from .baselines import ExperienceReplay, JointTraining, SequentialFineTuning
from .ctp import CTP
from .modx import ModX

STRATEGIES = {
    "seqf": SequentialFineTuning,
    "jointt": JointTraining,
    "er": ExperienceReplay,
    "ctp": CTP,
    "modx": ModX,
}


def build_strategy(name: str, **kwargs) -> ContinualStrategy:
    if name not in STRATEGIES:
        raise ValueError(f"Unknown continual strategy {name!r}; choose one of {sorted(STRATEGIES)}.")
    return STRATEGIES[name](**kwargs)


__all__ = [
    "CTP",
    "STRATEGIES",
    "ContinualStrategy",
    "ExperienceReplay",
    "JointTraining",
    "ModX",
    "SequentialFineTuning",
    "build_strategy",
]
