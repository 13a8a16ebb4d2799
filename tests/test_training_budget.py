"""Equal compute per chunk: ``training.flops_per_stage`` sizes every stage's steps by its FLOPs, growth included."""

import json

import pytest

from growclip_hf import GrowCLIPConfig
from growclip_hf.growth.compute_optimal import pairs_per_parameter
from growclip_hf.growth.flops import steps_within_budget, training_flops_per_pair
from growclip_hf.stages.launch import build_run
from growclip_hf.training import TrainingConfig

from .helpers import tiny_config
from .stream_helpers import tiny_stream_settings, write_yearly_stream

VISION_DEPTH_ONLY = {"width_factor": 1.0, "heads_step": 0, "mlp_factor": 1.0, "shared_depth_step": 0,
                     "towers": ["vision_config"]}  # fmt: skip


def test_steps_are_what_the_budget_buys_after_the_search():
    config = tiny_config()
    per_step = 16 * training_flops_per_pair(config)
    assert steps_within_budget(10.5 * per_step, 16, config) == 10
    assert steps_within_budget(10.5 * per_step, 16, config, spent=3 * per_step) == 7
    assert steps_within_budget(0.5 * per_step, 16, config) == 1  # a stage always trains


def test_a_budget_and_fixed_steps_do_not_mix():
    with pytest.raises(ValueError, match="flops_per_stage"):
        TrainingConfig(flops_per_stage=1e9, steps_per_stage=4)


def test_per_stage_budgets_are_a_list_whose_last_repeats_and_must_be_positive():
    config = TrainingConfig(flops_per_stage=[1e9, 3e9])
    assert [config.stage_flops(k) for k in range(4)] == [1e9, 3e9, 3e9, 3e9]
    assert TrainingConfig(flops_per_stage=2e9).stage_flops(5) == 2e9 and TrainingConfig().stage_flops(0) is None
    for bad in ([], [1e9, 0], [1e9, "x"], -1.0):
        with pytest.raises(ValueError, match="a list of them"):
            TrainingConfig(flops_per_stage=bad)


def test_every_stage_spends_its_budget_and_the_compute_policy_grows_when_the_budget_buys_it(tmp_path):
    stream = write_yearly_stream(tmp_path / "stream", per_year=48)
    settings = tiny_stream_settings(tmp_path / "run")
    settings["training"].pop("steps_per_stage")
    start = GrowCLIPConfig(**settings["model"])
    grown = GrowCLIPConfig(**{**settings["model"], "vision_config": {**settings["model"]["vision_config"],
                                                                     "num_hidden_layers": 2}})  # fmt: skip
    per_step = [16 * training_flops_per_pair(config) for config in (start, grown)]
    budgets = [6.5 * per_step[0], 8.5 * per_step[1]]  # the second chunk gets more compute
    settings["training"]["flops_per_stage"] = budgets
    # The ratio that the second budget buys the deeper vision tower, and the first would not: grow before stage 1.
    ratio = 0.9 * pairs_per_parameter(grown, budgets[1])
    assert pairs_per_parameter(grown, budgets[0]) < ratio
    settings["growth"] = {"policy": "compute", "pairs_per_parameter": ratio, "space": VISION_DEPTH_ONLY}
    settings["data"] = {"stream": {"source": str(stream / "*" / "*.parquet"), "by": "year"}, "image_column": "jpg",
                        "text_column": "txt", "heldout_fraction": 0.15}  # fmt: skip
    build_run(settings, tmp_path / "run").run()
    stages = [json.loads(line) for line in (tmp_path / "run" / "stages.jsonl").read_text().splitlines()]
    spent = [stages[0]["train_flops"], stages[1]["train_flops"] - stages[0]["train_flops"]]
    for flops, cost, budget in zip(spent, per_step, budgets, strict=True):
        assert budget - cost < flops <= budget  # what the budget buys, to within one step
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    steps = [sum(1 for row in log if row["stage"] == k) for k in (0, 1)]
    assert steps == [6, 8]  # the grown tower costs more per step, and the second budget buys 8 of them
    (decision,) = [json.loads(line) for line in (tmp_path / "run" / "growth_log.jsonl").read_text().splitlines()]
    assert decision["policy"] == "compute" and decision["choice"] == "vision-depth" and "search" not in decision
    assert decision["compute"]["stage_flops"] == budgets[1]
