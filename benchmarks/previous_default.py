"""The main job's previous default recipe, as overrides of today's ``default`` preset.

Until the default became compute-optimal growth from width 32, ``growclip-hf run --scale default`` trained width 128
for 2 passes per chunk and searched (successive halving, preserve initialisation) only once the training loss
plateaued. The stored results of ``growth_efficiency.py``, ``continual_results.py``, ``strategies.py`` and the older
columns of ``main_job.py`` were measured with that recipe; these scripts add the overrides below, so that a re-run
measures what their stores hold (``tests/test_benchmark_scripts.py`` checks they rebuild that preset exactly).
"""

from __future__ import annotations

_TOWER = {"hidden_size": 128, "intermediate_size": 512}
SETS = [
    "model.projection_dim=128",
    *(
        f"model.{tower}.{key}={value}"
        for tower in ("vision_config", "text_config", "shared_config")
        for key, value in _TOWER.items()
    ),
    "training.flops_per_stage=null",
    "training.epochs_per_stage=2.0",
    "growth.policy=auto",
    "growth.trigger=plateau",
    "growth.method=halving",
    "growth.max_search_fraction=0.15",
    "growth.min_proxy_steps=2",
    "growth.budget_exponent=0.75",
    "growth.init=preserve",
    "growth.momentum=0.5",
    "growth.pairs_per_parameter=1.0",
    "growth.space={}",
]


def overrides(scale: str) -> list[str]:
    """The overrides that turn ``scale``'s preset into the one the stored runs used (none for ``small``)."""
    return list(SETS) if scale == "default" else []


def set_args(scale: str) -> list[str]:
    """``overrides(scale)`` as command-line arguments: ``--set A --set B ...``."""
    return [arg for item in overrides(scale) for arg in ("--set", item)]
