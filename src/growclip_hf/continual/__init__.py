"""Continual-learning strategies behind one interface (``ContinualStrategy``), selected by name."""

import importlib

from .base import ContinualStrategy, embed_pair, frozen_copy, load_teacher, save_teacher
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


def build_strategy(name: str, **options) -> ContinualStrategy:
    """The strategy called ``name`` (a key of ``STRATEGIES``, or ``"package.module:ClassName"`` for your own
    ``ContinualStrategy`` subclass), built with its ``options``."""
    if ":" in name:
        module, _, attribute = name.partition(":")
        return getattr(importlib.import_module(module), attribute)(**options)
    if name not in STRATEGIES:
        raise ValueError(f"Unknown continual strategy {name!r}; choose one of {sorted(STRATEGIES)}.")
    return STRATEGIES[name](**options)


__all__ = [
    "CTP",
    "STRATEGIES",
    "ContinualStrategy",
    "ExperienceReplay",
    "JointTraining",
    "ModX",
    "SequentialFineTuning",
    "build_strategy",
    "embed_pair",
    "frozen_copy",
    "load_teacher",
    "save_teacher",
]
