"""init='preserve': the grown model computes the same function, for every dimension and for combinations."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from growclip_hf import GrowCLIPModel

from .helpers import perturb_, pixel_batch, text_batch, tiny_config

BOUND = 1e-4


def _logits(model):
    with torch.no_grad():
        return model(**text_batch(batch=3), pixel_values=pixel_batch(batch=2)).logits_per_image


def _max_error(old, new):
    return (_logits(new) - _logits(old)).abs().max().item()


SINGLE_DIMENSIONS = [
    {"text_config": {"num_hidden_layers": 4}},
    {"vision_config": {"num_hidden_layers": 3}},
    {"text_config": {"intermediate_size": 80}},
    {"vision_config": {"intermediate_size": 64}},
    {"text_config": {"hidden_size": 48}},  # head width grows with it (48 / 4 heads)
    {"vision_config": {"hidden_size": 34}},  # does not divide by 4 heads: head width kept
    {"text_config": {"hidden_size": 48, "num_attention_heads": 6}},  # heads of the same width added
    {"vision_config": {"hidden_size": 48, "head_dim": 12}},
    {"shared_config": {"num_hidden_layers": 1}},  # the shared encoder from 0 layers
    {"shared_config": {"num_hidden_layers": 1, "hidden_size": 40}},  # ... wider than the towers
    {"projection_dim": 40},
]


@pytest.mark.parametrize("target", SINGLE_DIMENSIONS, ids=lambda t: str(t))
def test_each_dimension_alone_preserves_the_function(model, target):
    grown = model.grow(target, init="preserve", seed=1).eval()
    assert _max_error(model, grown) <= BOUND
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "target",
    [
        {"shared_config": {"num_hidden_layers": 3}, "text_config": {"hidden_size": 48}},
        {"shared_config": {"intermediate_size": 64, "num_hidden_layers": 3, "hidden_size": 48}},
    ],
    ids=str,
)
def test_growth_of_an_existing_shared_encoder_preserves_the_function(shared_model, target):
    grown = shared_model.grow(target, init="preserve", seed=2).eval()
    assert _max_error(shared_model, grown) <= BOUND


def test_all_dimensions_at_once_preserve_the_function(model):
    target = {
        "text_config": {"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 8, "intermediate_size": 96},
        "vision_config": {"hidden_size": 48, "num_hidden_layers": 4, "intermediate_size": 72},
        "shared_config": {"num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 8},
        "projection_dim": 32,
    }
    grown = model.grow(target, init="preserve", seed=3).eval()
    assert _max_error(model, grown) <= BOUND
    with pytest.raises(ValueError, match="finish_growth_ramp"):
        grown.grow({"shared_config": {"hidden_size": 80}}, init="preserve")
    deeper = grown.grow({"vision_config": {"num_hidden_layers": 5}}, init="preserve")  # depth is fine mid-ramp
    assert deeper.config.growth_ramp["active_widths"]["vision_model.encoder.layers.4.layer_norm1"] == 32
    assert _max_error(grown, deeper.eval()) <= BOUND
    grown.finish_growth_ramp()
    again = perturb_(grown, seed=9).grow({"shared_config": {"hidden_size": 80}}, init="preserve")
    assert _max_error(grown, again.eval()) <= BOUND


def test_old_model_is_untouched(model):
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    model.grow({"text_config": {"hidden_size": 48}, "projection_dim": 30}, init="preserve")
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def _tower_growth(draw, name: str, hidden: int, heads: int) -> dict:
    grow = {}
    if draw(st.booleans()):
        grow["num_hidden_layers"] = draw(st.integers(2, 4))
    if draw(st.booleans()):
        grow["intermediate_size"] = draw(st.integers(48, 96))
    if draw(st.booleans()):
        new_heads = draw(st.integers(heads, 6))
        grow["num_attention_heads"] = new_heads
        grow["hidden_size"] = draw(st.integers(max(hidden, new_heads * 8), 64))
    elif draw(st.booleans()):
        grow["hidden_size"] = draw(st.integers(hidden, 64))
    return grow


@st.composite
def growth_targets(draw):
    target = {}
    for name in ("text_config", "vision_config"):
        grow = _tower_growth(draw, name, 32, 4)
        if grow:
            target[name] = grow
    if draw(st.booleans()):
        widest = max(target.get(name, {}).get("hidden_size", 32) for name in ("text_config", "vision_config"))
        target["shared_config"] = {
            "num_hidden_layers": draw(st.integers(1, 2)),
            "hidden_size": draw(st.integers(widest, 64)),
            "num_attention_heads": 4,
        }
    if draw(st.booleans()) or not target:
        target["projection_dim"] = draw(st.integers(24, 40))
    return target


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=growth_targets(), seed=st.integers(0, 2**16))
def test_random_targets_preserve_the_function(model, target, seed):
    grown = model.grow(target, init="preserve", seed=seed).eval()
    assert _max_error(model, grown) <= BOUND


def test_preserve_refuses_a_shared_encoder_narrower_than_the_towers(model):
    with pytest.raises(ValueError, match="shared_config.hidden_size"):
        model.grow({"shared_config": {"num_hidden_layers": 1, "hidden_size": 16}}, init="preserve")
    # PIM and random have no such constraint.
    model.grow({"shared_config": {"num_hidden_layers": 1, "hidden_size": 16}}, init="pim")


def test_preserve_in_float64_is_exact_to_rounding():
    torch.manual_seed(0)
    model = perturb_(GrowCLIPModel(tiny_config())).double().eval()
    grown = model.grow({"text_config": {"hidden_size": 48, "num_hidden_layers": 3}, "projection_dim": 30})
    texts, pixels = text_batch(), pixel_batch().double()
    with torch.no_grad():
        error = (
            grown(**texts, pixel_values=pixels).logits_per_image - model(**texts, pixel_values=pixels).logits_per_image
        )
    assert grown.dtype == torch.float64
    assert error.abs().max().item() <= 1e-10


def test_new_units_are_not_dead_after_growth(model):
    """Preservation must come from zeroed outgoing weights only: new units still get gradients once ramped in."""
    grown = model.grow({"text_config": {"intermediate_size": 80, "num_hidden_layers": 3}}, init="preserve").train()
    grown(**text_batch(batch=2), pixel_values=pixel_batch(batch=2), return_loss=True).loss.backward()
    fc2 = grown.text_model.encoder.layers[0].mlp.fc2.weight
    new_layer = grown.text_model.encoder.layers[2]
    assert fc2.grad[:, 48:].abs().sum() > 0
    assert new_layer.self_attn.out_proj.weight.grad.abs().sum() > 0
