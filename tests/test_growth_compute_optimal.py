"""Compute-optimal sizing: the ``compute`` policy grows to the largest candidate its stage's budget trains well."""

import pytest
import torch

from growclip_hf.growth import GrowthPolicy, GrowthSpace, GrowthTrigger, StageContext
from growclip_hf.growth.compute_optimal import compute_optimal_choice, pairs_per_parameter
from growclip_hf.growth.flops import parameter_count, training_flops_per_pair
from growclip_hf.growth.policies import decision_line
from growclip_hf.models.growclip import GrowCLIPModel
from growclip_hf.stages.launch import build_policy
from growclip_hf.stages.settings_check import SettingsError, check_settings

from .helpers import VOCAB, perturb_, pixel_batch, text_batch, tiny_config

SPACE = GrowthSpace(heads_step=0, mlp_factor=1.0, shared_depth_step=0, towers=("vision_config",))


def _readings(config, flops):
    return compute_optimal_choice(config, SPACE.candidates(config), flops, 1.0)[1]


def test_pairs_per_parameter_is_what_the_budget_buys():
    config = tiny_config()
    flops = 3e9
    expected = flops / training_flops_per_pair(config) / parameter_count(config)
    assert pairs_per_parameter(config, flops) == pytest.approx(expected)
    assert pairs_per_parameter(config, 2 * flops) == pytest.approx(2 * expected)


def test_the_largest_candidate_that_meets_the_ratio_wins():
    config = tiny_config()
    candidates = SPACE.candidates(config)  # keep, vision depth, vision width
    readings = {r["name"]: r for r in _readings(config, 1e9)}
    depth, width = readings["vision-depth"], readings["vision-width"]
    assert width["parameters"] > depth["parameters"] > readings["keep"]["parameters"]
    # the larger a model, the fewer pairs per parameter the same budget buys it
    assert width["pairs_per_parameter"] < depth["pairs_per_parameter"] < readings["keep"]["pairs_per_parameter"]
    per_flop = {name: r["pairs_per_parameter"] / 1e9 for name, r in readings.items()}

    def choose(ratio, flops):
        return compute_optimal_choice(config, candidates, flops, ratio)[0].name

    ratio = 2.0
    assert choose(ratio, 1.01 * ratio / per_flop["vision-width"]) == "vision-width"  # everything qualifies
    between = (ratio / per_flop["vision-width"] + ratio / per_flop["vision-depth"]) / 2
    assert choose(ratio, between) == "vision-depth"  # the width step is too large for this budget
    assert choose(ratio, 0.99 * ratio / per_flop["vision-depth"]) == "keep"
    assert choose(ratio, 0.01 * ratio / per_flop["keep"]) == "keep"  # never shrinks, even far below its own ratio


def test_the_policy_decides_without_a_search_and_says_why():
    model = GrowCLIPModel(tiny_config())
    # a trigger does not gate it: compute says when by itself (a falling loss would make the plateau trigger keep)
    policy = GrowthPolicy("compute", space=SPACE, pairs_per_parameter=1.5, trigger=GrowthTrigger("plateau"))
    assert not policy.needs_search_data()
    policy.record_base(sum(p.numel() for p in model.parameters()), 10)
    falling = [4.0 - 0.02 * step for step in range(40)]
    context = StageContext(stage=1, model=model, samples_seen=10**9, stage_flops=1e13, seed=0, previous_losses=falling)
    record = policy.decide(context)  # no train_candidate, no held-out pairs: nothing is trained
    assert "trigger" not in record
    assert record["choice"] == "vision-width" and record["target"] == SPACE.candidates(model.config)[2].target
    assert record["compute"]["pairs_per_parameter"] == 1.5 and len(record["compute"]["readings"]) == 3
    line = decision_line(record)
    assert "vision-width" in line and ">= 1.5 training pairs per parameter" in line and "no search" in line
    small = policy.decide(StageContext(stage=1, model=model, samples_seen=10**9, stage_flops=1e6, seed=0))
    assert small["choice"] == "keep" and small["target"] is None


def test_the_parameter_budget_still_binds():
    model = GrowCLIPModel(tiny_config())
    policy = GrowthPolicy("compute", space=SPACE, budget_exponent=0.5)
    params = sum(p.numel() for p in model.parameters())
    policy.record_base(params, 100)
    # 1.01x the first stage's data allows ~0.5 % more parameters: no growth step fits, however large the FLOPs
    record = policy.decide(StageContext(stage=1, model=model, samples_seen=101, stage_flops=1e15, seed=0))
    assert record["choice"] == "keep" and {c["name"] for c in record["over_budget"]} == {"vision-depth", "vision-width"}


def test_settings_name_the_ratio_and_refuse_a_bad_one():
    assert build_policy({"policy": "compute", "pairs_per_parameter": 2.5}).pairs_per_parameter == 2.5
    assert build_policy({"policy": "compute"}).pairs_per_parameter == 1.0
    for bad in (0, -1.0, "many", True):
        with pytest.raises(SettingsError, match="growth.pairs_per_parameter must be a positive number"):
            check_settings({"growth": {"policy": "compute", "pairs_per_parameter": bad}})


def test_the_model_width_step_widens_the_whole_model_and_preserves_its_function():
    """``model_width_factor`` proposes what a fixed-width sweep measures: both towers, their MLPs and the projection
    wider, heads of the same width; grown with ``preserve`` the model still computes what it did."""
    space = GrowthSpace(depth_step=0, width_factor=1.0, heads_step=0, mlp_factor=1.0, shared_depth_step=0)
    assert [c.name for c in space.candidates(tiny_config())] == ["keep"]
    wide = GrowthSpace(**{**space.__dict__, "model_width_factor": 2.0})
    keep, width = wide.candidates(tiny_config())
    assert (keep.name, width.name) == ("keep", "width")
    model = perturb_(GrowCLIPModel(tiny_config()).eval())
    grown = model.grow(width.target, init="preserve").eval()
    for tower in (grown.config.vision_config, grown.config.text_config):  # 4 heads of 8 -> 8 heads of 8
        assert (tower.hidden_size, tower.num_attention_heads, tower.intermediate_size) == (64, 8, 96)
    assert grown.config.projection_dim == 48
    inputs = {**text_batch(), "pixel_values": pixel_batch(3)}
    with torch.no_grad():
        before, after = model(**inputs).logits_per_image, grown(**inputs).logits_per_image
    assert torch.allclose(before, after, atol=1e-4)
    assert parameter_count(grown.config) == sum(p.numel() for p in grown.parameters())  # what the policy reads
    # the compute policy takes it once the stage's budget trains it on enough pairs per parameter
    policy = GrowthPolicy("compute", space=wide, pairs_per_parameter=1.0, budget_exponent=10.0)
    policy.record_base(sum(p.numel() for p in model.parameters()), 100)
    for flops, choice in ((1e9, "keep"), (1e14, "width")):
        context = StageContext(stage=1, model=model, samples_seen=10**6, stage_flops=flops, seed=0)
        assert policy.decide(context)["choice"] == choice
    assert build_policy({"policy": "compute", "space": {"model_width_factor": 2.0}}).space.model_width_factor == 2.0


def test_the_model_width_step_grows_towers_whose_heads_do_not_fill_them_and_a_shared_encoder():
    """Heads of 16 in a 96-wide tower (an explicit head_dim) and a shared layer: the step still only grows, and the
    grown model computes what the old one did."""
    tower = {"hidden_size": 96, "intermediate_size": 192, "num_hidden_layers": 1, "num_attention_heads": 2}
    tower["head_dim"] = 16
    config = tiny_config(
        text_config={**tower, "vocab_size": VOCAB, "max_position_embeddings": 16},
        vision_config={**tower, "image_size": 32, "patch_size": 8},
        shared_config={**tower, "num_hidden_layers": 1},
    )
    width = GrowthSpace(model_width_factor=2.0).candidates(config)[-1]
    assert width.target["vision_config"] == {"hidden_size": 192, "num_attention_heads": 4, "intermediate_size": 384}
    model = perturb_(GrowCLIPModel(config).eval())
    grown = model.grow(width.target, init="preserve").eval()
    inputs = {**text_batch(), "pixel_values": pixel_batch(3)}
    with torch.no_grad():
        assert torch.allclose(model(**inputs).logits_per_image, grown(**inputs).logits_per_image, atol=1e-4)
