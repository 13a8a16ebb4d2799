"""The Oracle of a run (TiC-CLIP's reference): the run's final architecture trained from scratch on all the data seen
up to a stage, with the same recipe (batch, passes, learning rate), and the compute that retraining at every stage
would cost.

``growclip-hf oracle RUN_DIR`` trains the Oracle of the run's last stage for real (one stage whose stream is the union
of chunks 0..K) and evaluates it on the run's suite. Retraining at the earlier stages is counted, not run: its
compute is exact arithmetic (steps x global batch x training FLOPs per pair of the final architecture), while its
quality at earlier stages is not needed for the comparison of final quality against cumulative compute.

A run with a FLOP budget per stage (``training.flops_per_stage``) has an Oracle at equal compute: retraining at stage
K gets the budgets of stages 0..K together, the compute the run itself spent by then.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..growth.flops import steps_within_budget, training_flops_per_pair
from ..models.growclip import GrowCLIPConfig
from ..training.config import TrainingConfig

ORACLE_FILE = "oracle.json"
_TOWERS = ("text_config", "vision_config", "shared_config")
_ARCHITECTURE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")


class UnionPlan:
    """One stage that streams what ``plan`` streams at stage ``stage``: with replay "all", chunks 0..stage."""

    def __init__(self, plan, stage: int):
        if plan.replay != "all":
            raise ValueError(f"The Oracle streams every chunk seen so far (replay 'all'), not {plan.replay!r}.")
        if not 0 <= stage < plan.num_stages:
            raise ValueError(f"Oracle stage {stage} is outside the stream's stages 0..{plan.num_stages - 1}.")
        self.plan = plan
        self.stage = stage
        self.num_stages = 1
        self.names = [f"chunks 0-{stage}"]

    @property
    def pad_token_id(self) -> int:
        return self.plan.pad_token_id

    def train_pairs(self, stage: int) -> int:
        return self.plan.train_pairs(self.stage)

    def loader(self, stage: int, rank: int, world_size: int, batch_size: int, seed: int):
        return self.plan.loader(self.stage, rank, world_size, batch_size, seed)

    def search_data(self, stage: int, batch_size: int, num_batches: int, heldout_pairs: int, seed: int):
        return self.plan.search_data(self.stage, batch_size, num_batches, heldout_pairs, seed)


def last_stage(run_dir: Path) -> int:
    stages = sorted(int(p.name.split("-")[1]) for p in run_dir.glob("stage-*") if p.name.split("-")[1].isdigit())
    if not stages:
        raise SystemExit(f"growclip-hf oracle: {run_dir} holds no stage-K folders; run `growclip-hf run` first.")
    return stages[-1]


def oracle_settings(run_dir: Path, stage: int, seed: int | None) -> dict:
    """The run's settings with its final architecture, no growth, every chunk seen so far (JointT's stream)."""
    settings_file = run_dir / "run_settings.json"
    if not settings_file.is_file():
        raise SystemExit(f"growclip-hf oracle: no {settings_file}; the Oracle follows a run's recipe.")
    settings = json.loads(settings_file.read_text(encoding="utf-8"))
    final = GrowCLIPConfig.from_pretrained(run_dir / f"stage-{last_stage(run_dir)}")
    model = settings.setdefault("model", {})
    for tower in _TOWERS:
        grown = getattr(final, tower).to_dict()
        model[tower] = {**model.get(tower, {}), **{key: grown[key] for key in _ARCHITECTURE_KEYS}}
    model["projection_dim"] = final.projection_dim
    settings["growth"] = {"policy": "none"}
    settings["continual"] = {"strategy": "jointt"}
    data = settings.setdefault("data", {})
    data.pop("reservoir_size", None)
    data.update(replay="all", oracle_stage=stage)
    training = settings.setdefault("training", {})
    budget = cumulative_budget(training, stage)
    if budget is not None:
        training["flops_per_stage"] = budget
    if seed is not None:
        training["seed"] = seed
    return settings


def cumulative_budget(training: dict, stage: int) -> float | None:
    """The FLOPs a run with ``training.flops_per_stage`` spends on stages 0..``stage`` (None without a budget)."""
    config = TrainingConfig(flops_per_stage=training.get("flops_per_stage"))
    if config.flops_per_stage is None:
        return None
    return sum(config.stage_flops(k) for k in range(stage + 1))


def oracle_steps(pairs: int, global_batch: int, epochs: float, steps_per_stage: int | None) -> int:
    """Optimizer steps of the Oracle on ``pairs`` pairs: the run's rule (fixed steps, or passes over the data)."""
    return int(steps_per_stage) if steps_per_stage else max(1, math.ceil(pairs * epochs / global_batch))


def oracle_compute(run_dir: Path, plan, final_config, global_batch: int, steps_of) -> dict:
    """Cumulative training compute of retraining the final architecture at every stage, beside the run's own.

    ``plan`` streams every chunk seen so far (replay "all"); ``steps_of(pairs)`` is the run's rule for steps. Under a
    per-stage FLOP budget, retraining at stage K takes the steps that the run's budgets of stages 0..K buy."""
    per_pair = training_flops_per_pair(final_config)
    run_training = json.loads((run_dir / "run_settings.json").read_text(encoding="utf-8")).get("training", {})

    def steps(stage: int) -> int:
        budget = cumulative_budget(run_training, stage)
        if budget is None:
            return steps_of(plan.train_pairs(stage))
        return steps_within_budget(budget, global_batch, final_config)

    per_stage = [steps(stage) * global_batch * per_pair for stage in range(plan.num_stages)]
    cumulative = [sum(per_stage[: k + 1]) for k in range(len(per_stage))]
    run_rows = [json.loads(line) for line in (run_dir / "stages.jsonl").read_text().splitlines() if line.strip()]
    run_flops = [row["train_flops"] + row["search_flops"] for row in run_rows]
    return {
        "oracle_flops_per_stage": per_stage,
        "oracle_cumulative_flops": cumulative,
        "run_cumulative_flops": run_flops,
        "run_over_oracle": [r / o for r, o in zip(run_flops, cumulative, strict=False)],
    }
