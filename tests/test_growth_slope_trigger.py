"""The slope trigger: growth is considered once the held-out loss learns too little per doubling of compute."""

import json
import math

import pytest

from growclip_hf.growth import GrowthTrigger
from growclip_hf.stages.launch import build_policy, build_run
from growclip_hf.stages.learning_curve import reading_steps
from growclip_hf.training import TrainingConfig

from .stream_helpers import tiny_stream_settings, write_yearly_stream


def _curve(start_flops: float, losses: list[float]) -> list[list[float]]:
    return [[start_flops * 2**i, loss] for i, loss in enumerate(losses)]


def test_a_flat_curve_fires_and_a_falling_one_keeps():
    trigger = GrowthTrigger("slope", min_gain=0.01)
    flat = trigger.reading(None, _curve(1e12, [3.000, 2.995, 2.990, 2.986]))
    assert flat["fire"] and flat["gain_per_doubling"] == pytest.approx(0.0016, abs=2e-4)
    assert flat["reason"].startswith("learning curve flat") and flat["points"] == 4
    falling = trigger.reading(None, _curve(1e12, [3.0, 2.8, 2.6, 2.4]))  # 0.2 nats per doubling, ~7.4 %
    assert not falling["fire"] and falling["gain_per_doubling"] == pytest.approx(0.2 / 2.7, rel=1e-6)
    # the training loss plays no part: a steeply falling one does not stop a flat curve from firing
    assert trigger.reading([5.0 - 0.01 * i for i in range(100)], _curve(1e12, [3.0] * 4))["fire"]


def test_too_few_readings_leave_the_decision_to_the_policy():
    reading = GrowthTrigger("slope").reading(None, [[0.0, 3.0], [1e9, 2.9]])  # zero compute is no point on a log axis
    assert reading["fire"] and reading["points"] == 1 and "need 3" in reading["reason"]
    with pytest.raises(ValueError, match="slope_min_gain"):
        GrowthTrigger("slope", min_gain=-1)
    assert build_policy({"trigger": "slope", "slope_min_gain": 0.05}).trigger.min_gain == 0.05


def test_readings_sit_on_the_stable_part_of_the_schedule():
    wsd = TrainingConfig(warmup_steps=10, lr_schedule="wsd", decay_fraction=0.2)
    steps = reading_steps(100, wsd)
    assert steps[0] == 10 and steps[-1] == 79 and len(steps) == 6  # decay starts at step 80
    assert reading_steps(100, TrainingConfig(warmup_steps=10))[-1] == 99  # cosine: no stable part, read it all


def test_a_run_reads_the_curve_and_decides_on_it(tmp_path):
    stream = write_yearly_stream(tmp_path / "stream", per_year=48)
    settings = tiny_stream_settings(tmp_path / "run")
    settings["training"].update(steps_per_stage=12, lr_schedule="wsd", warmup_steps=2)
    settings["growth"] = {"policy": "random", "trigger": "slope", "slope_min_gain": 100.0}  # any curve fires
    settings["data"] = {"stream": {"source": str(stream / "*" / "*.parquet"), "by": "year"}, "image_column": "jpg",
                        "text_column": "txt", "heldout_fraction": 0.15}  # fmt: skip
    build_run(settings, tmp_path / "run").run()
    decision = json.loads((tmp_path / "run" / "growth_log.jsonl").read_text().splitlines()[0])
    reading = decision["trigger"]
    config = TrainingConfig(steps_per_stage=12, lr_schedule="wsd", warmup_steps=2)
    assert reading["trigger"] == "slope" and reading["fire"] and reading["points"] == len(reading_steps(12, config))
    flops = [point[0] for point in reading["curve"]]
    assert flops == sorted(flops) and flops[0] > 0
    per_step = flops[1] - flops[0]
    assert per_step > 0 and all(math.isfinite(point[1]) for point in reading["curve"])
    stages = [json.loads(line) for line in (tmp_path / "run" / "stages.jsonl").read_text().splitlines()]
    assert stages[0]["search_flops"] > 0  # the readings' forward passes are counted as decision compute
    assert stages[1]["search_flops"] == stages[0]["search_flops"]  # the last stage reads no curve
