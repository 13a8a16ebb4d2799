"""Growth decisions: the growth space, the parameter budget, FLOPs, the policies and the data-aware search.

The search receives the function that trains a candidate from its caller (``training.ProxyTrainer`` in the stage
loop), so this package never imports the step engine.
"""

from .policies import POLICIES, GrowthPolicy, StageContext
from .search import SearchSettings, run_search
from .space import Candidate, GrowthBudget, GrowthSpace
from .trigger import TRIGGERS, GrowthTrigger

__all__ = [
    "POLICIES",
    "Candidate",
    "GrowthBudget",
    "GrowthPolicy",
    "GrowthSpace",
    "SearchSettings",
    "StageContext",
    "TRIGGERS",
    "GrowthTrigger",
    "run_search",
]
