"""The shared encoder fits the towers it joins, and growth plans are refused before training (configs only: fast).

The sizes are a converted ViT-B/32 CLIP's (transformers' ``CLIPConfig()`` defaults with a small vocabulary); the
weights are built in the real-size tier (``make test-large``), not here.
"""

import pytest
import torch
from transformers import CLIPConfig

from growclip_hf import GrowCLIPConfig, GrowCLIPModel
from growclip_hf.growth import GrowthPolicy, GrowthSpace
from growclip_hf.growth.plan_check import check_growth_plan, invalid_candidates
from growclip_hf.models.growclip.conversion_growclip import growclip_config_from_clip
from growclip_hf.models.growclip.growth_targets_growclip import validated_growth
from growclip_hf.stages.continual_run import ContinualRun
from growclip_hf.training.config import TrainingConfig

from .helpers import tiny_config


@pytest.fixture(scope="module")
def b32() -> GrowCLIPConfig:
    return growclip_config_from_clip(CLIPConfig(text_config={"vocab_size": 1000}))


def _sizes(sub) -> tuple:
    return sub.hidden_size, sub.num_attention_heads, sub.head_dim, sub.intermediate_size


def test_a_converted_clip_grows_a_shared_layer_from_its_depth_alone(b32):
    grown, changes = validated_growth(b32, {"shared_config": {"num_hidden_layers": 1}}, "preserve")
    assert changes == ["shared_config.num_hidden_layers: 0 -> 1"]
    assert _sizes(grown.shared_config) == (768, 12, None, 3072)  # the vision tower's width, 64-wide heads, MLP x4


def test_the_shared_encoder_fits_towers_grown_in_the_same_step(b32):
    target = {
        "vision_config": {"hidden_size": 1024, "num_attention_heads": 16},
        "shared_config": {"num_hidden_layers": 2},
    }
    grown = validated_growth(b32, target, "preserve")[0]
    assert _sizes(grown.shared_config) == (1024, 16, None, 3072)  # the tower's MLP ratio, now 3
    # a width that the towers' head size does not divide keeps that head size
    grown = validated_growth(b32, {"shared_config": {"num_hidden_layers": 1, "hidden_size": 800}}, "preserve")[0]
    assert _sizes(grown.shared_config) == (800, 12, 64, 3200)


def test_the_search_at_vit_b32_proposes_only_buildable_candidates(b32):
    candidates = GrowthSpace().candidates(b32)
    assert "shared-depth" in [c.name for c in candidates]
    assert invalid_candidates(b32, candidates, "preserve") == {}
    check_growth_plan(GrowthPolicy(name="auto"), b32)
    # mid-ramp, a width step cannot preserve the function: the search leaves it out instead of failing in it
    ramping = validated_growth(b32, {"text_config": {"hidden_size": 640}}, "preserve")[0]
    ramping.growth_ramp = {"progress": 0.5, "active_widths": {"text_model.final_layer_norm": 512}}
    invalid = invalid_candidates(ramping, GrowthSpace().candidates(ramping), "preserve")
    assert "vision-width" in invalid and "shared-depth" in invalid and "text-depth" not in invalid
    assert "finish_growth_ramp" in invalid["vision-width"]


def test_an_explicitly_saved_shared_size_loads_as_saved(b32):
    saved = b32.to_dict()
    saved["shared_config"].update(hidden_size=512, num_attention_heads=4, intermediate_size=1024)  # as saved before
    loaded = GrowCLIPConfig.from_dict(saved)
    assert _sizes(loaded.shared_config) == (512, 4, None, 1024)
    assert GrowCLIPConfig.from_dict(loaded.to_dict()).shared_config.hidden_size == 512
    # growing its (empty) shared encoder by depth alone fits the towers as they are now
    assert _sizes(validated_growth(loaded, {"shared_config": {"num_hidden_layers": 1}})[0].shared_config)[0] == 768
    # an active shared encoder keeps its own sizes
    active = GrowCLIPConfig(text_config={"hidden_size": 64}, shared_config={"num_hidden_layers": 1, "hidden_size": 128})
    assert _sizes(active.shared_config) == (128, 2, None, 512)  # the vision tower's 64-wide heads


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ([{"shared_config": {"num_hidden_layers": 1, "hidden_size": 512}}], r"schedule\[0\].*>= 768"),
        ([None, {"vision_config": {"num_hidden_layers": 4}}], r"schedule\[1\] \(the growth before stage 2\).*smaller"),
        ([{"text_config": {"num_attention_heads": 9}}], r"schedule\[0\].*hidden_size"),
    ],
)
def test_a_schedule_the_model_cannot_follow_is_refused_in_one_line(b32, schedule, message):
    with pytest.raises(ValueError, match=message) as error:
        check_growth_plan(GrowthPolicy(name="schedule", schedule=schedule), b32)
    assert "\n" not in str(error.value)


def test_the_stage_loop_refuses_a_bad_schedule_before_anything_trains(tmp_path):
    torch.manual_seed(0)
    model = GrowCLIPModel(tiny_config())
    policy = GrowthPolicy(name="schedule", schedule=[{"shared_config": {"num_hidden_layers": 1, "hidden_size": 16}}])
    with pytest.raises(ValueError, match="narrower than the towers"):
        ContinualRun(TrainingConfig(output_dir=str(tmp_path), tracker=None), model, None, plan=None, policy=policy)
    assert not any(tmp_path.iterdir())  # no checkpoint, no log: nothing ran
