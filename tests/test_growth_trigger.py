"""The plateau trigger: growth is considered only once the previous stage's training loss has flattened."""

import json
import random

import pytest
import torch

from growclip_hf import GrowCLIPModel
from growclip_hf.growth import GrowthPolicy, GrowthTrigger, SearchSettings, StageContext
from growclip_hf.growth.policies import decision_line
from growclip_hf.stages.launch import build_policy
from growclip_hf.training.proxy import ProxyTrainer

from .helpers import perturb_, pixel_batch, text_batch, tiny_config


def _noisy(start: float, end: float, steps: int, noise: float = 0.02, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [start + (end - start) * i / (steps - 1) + rng.uniform(-noise, noise) for i in range(steps)]


def test_every_chunk_always_decides():
    assert GrowthTrigger().reading(None)["fire"]
    assert GrowthTrigger("every").reading(_noisy(4.0, 2.0, 100))["fire"]


def test_a_flat_tail_fires_and_a_falling_tail_keeps():
    trigger = GrowthTrigger("plateau", tail=0.5, min_drop=0.03)
    # Falls steeply over the first half, flat over the second: the model has stopped learning.
    flat = _noisy(4.0, 3.0, 50) + _noisy(3.0, 3.0, 50, seed=1)
    reading = trigger.reading(flat)
    assert reading["fire"] and reading["points"] == 50 and abs(reading["relative_drop"]) < 0.03
    assert reading["reason"].startswith("plateaued")
    # Still falling by about 10 % over the last half: keep the model, it has capacity left.
    falling = _noisy(4.0, 2.0, 100)
    reading = trigger.reading(falling)
    assert not reading["fire"] and reading["relative_drop"] > 0.1
    assert reading["reason"].startswith("still learning")


def test_the_drop_is_measured_on_the_tail_only():
    # Steep at the start, flat at the end: a tail of 0.3 sees the plateau, a tail of 1.0 the steep start.
    losses = _noisy(5.0, 3.0, 30) + [3.0] * 70
    assert GrowthTrigger("plateau", tail=0.3).reading(losses)["fire"]
    assert not GrowthTrigger("plateau", tail=1.0).reading(losses)["fire"]


def test_too_few_losses_leave_the_decision_to_the_policy():
    reading = GrowthTrigger("plateau", tail=0.5).reading(_noisy(4.0, 2.0, 10))
    assert reading["fire"] and reading["points"] == 5 and "need 8" in reading["reason"]
    assert GrowthTrigger("plateau").reading([])["fire"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "sometimes"}, "growth.trigger must be one of"),
        ({"name": "plateau", "tail": 0.0}, "plateau_tail"),
        ({"name": "plateau", "tail": 1.5}, "plateau_tail"),
        ({"name": "plateau", "min_drop": -0.1}, "plateau_min_drop"),
    ],
)
def test_bad_trigger_settings_say_what_to_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GrowthTrigger(**kwargs)


def test_fixed_and_scheduled_growth_ignore_the_trigger():
    """The default preset's plateau trigger must not stop ``--policy none`` or a schedule: they already say when."""
    flat = [1.0] * 20  # a loss that has plateaued: the trigger would fire
    rising = [1.0 - 0.05 * step for step in range(20)]  # still learning: the trigger would keep
    schedule = [{"vision_config": {"num_hidden_layers": 3}}]
    for losses in (flat, rising):
        context = StageContext(stage=1, model=None, samples_seen=100, stage_flops=1.0, seed=0, previous_losses=losses)
        scheduled = GrowthPolicy(name="schedule", schedule=schedule, trigger=GrowthTrigger("plateau")).decide(context)
        assert scheduled["target"] == schedule[0] and "trigger" not in scheduled
        fixed = GrowthPolicy(name="none", trigger=GrowthTrigger("plateau")).decide(context)
        assert fixed["target"] is None and "trigger" not in fixed


def test_the_settings_build_the_trigger():
    policy = build_policy({"policy": "auto", "trigger": "plateau", "plateau_tail": 0.25, "plateau_min_drop": 0.01})
    assert policy.trigger == GrowthTrigger("plateau", tail=0.25, min_drop=0.01)
    assert build_policy({"policy": "auto"}).trigger.name == "every"


def _context(losses):
    torch.manual_seed(0)
    model = perturb_(GrowCLIPModel(tiny_config()), seed=0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = [
        {**text_batch(batch=16, seq_len=10, seed=s), "pixel_values": pixel_batch(batch=16, seed=s)} for s in (0, 1)
    ]
    heldout = {**text_batch(batch=32, seq_len=10, seed=9), "pixel_values": pixel_batch(batch=32, seed=9)}
    context = StageContext(
        stage=1, model=model, samples_seen=100_000, stage_flops=2e11, seed=0, heldout=heldout, previous_losses=losses
    )
    context.train_candidate = ProxyTrainer(model, optimizer, batches, learning_rate=1e-3)
    context.pairs_per_step = 16
    return context


def _policy(trigger: GrowthTrigger) -> GrowthPolicy:
    policy = GrowthPolicy(name="auto", search=SearchSettings(min_proxy_steps=1), trigger=trigger)
    policy.record_base(10_000, 1000)
    return policy


def test_a_model_still_learning_keeps_without_spending_on_a_search():
    context = _context(_noisy(4.0, 2.0, 100))

    def no_training(*args, **kwargs):
        raise AssertionError("the search must not train while the model is still learning")

    context.train_candidate = no_training
    decision = _policy(GrowthTrigger("plateau")).decide(context)
    assert decision["target"] is None and decision["choice"] == "keep" and "search" not in decision
    assert not decision["trigger"]["fire"]
    assert "still learning" in decision_line(decision, 0.15)


def test_a_plateaued_model_runs_the_search():
    context = _context([3.0] * 100)
    decision = _policy(GrowthTrigger("plateau")).decide(context)
    assert decision["trigger"]["fire"] and decision["search"]["search_flops"] > 0
    assert "plateaued" in decision_line(decision, 0.15)


def test_a_run_keeps_the_losses_of_each_stage_for_the_next_decision(tmp_path):
    """A real run whose trigger never fires: it keeps, searches nothing, and the drop it logs is the one the
    stage's logged training losses give."""
    from growclip_hf.data.benchmark.builder import build_benchmark

    from .run_helpers import growclip, write_train_config

    build_benchmark(tmp_path / "data", scale="small", seed=0)
    config = write_train_config(tmp_path / "train.yaml", tmp_path / "data" / "manifest.json", tmp_path / "run")
    overrides = ["growth.policy=auto", "growth.trigger=plateau", "growth.plateau_tail=1.0"]
    overrides += ["growth.plateau_min_drop=0.0", "growth.min_proxy_steps=1"]
    result = growclip(["train", str(config), "--no-report", *[a for o in overrides for a in ("--set", o)]], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "run"
    decision = json.loads((run / "growth_log.jsonl").read_text().splitlines()[0])
    logged = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in logged if row.get("stage") == 0 and "loss" in row]
    assert len(losses) == 12 and decision["trigger"]["points"] == 12
    expected = GrowthTrigger("plateau", tail=1.0, min_drop=0.0).reading(losses)
    assert decision["trigger"]["relative_drop"] == pytest.approx(expected["relative_drop"], abs=1e-5)
    assert not expected["fire"] and not decision["trigger"]["fire"]  # the loss fell over stage 0's 12 steps
    assert decision["choice"] == "keep" and "search" not in decision
    stages = [json.loads(line) for line in (run / "stages.jsonl").read_text().splitlines()]
    assert stages[-1]["search_flops"] == 0.0
    lines = [line for line in result.stdout.splitlines() if line.startswith("growth before stage 1 (auto)")]
    assert len(lines) == 1 and decision["trigger"]["reason"] in lines[0]
