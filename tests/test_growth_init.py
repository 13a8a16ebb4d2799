"""PIM and random initialisation, target validation, growth history and the slice mapping."""

import json

import pytest
import torch

from growclip_hf import GrowCLIPModel
from growclip_hf.models.growclip.growth_growclip import fresh_model

TARGET = {
    "text_config": {"hidden_size": 48, "num_hidden_layers": 3, "num_attention_heads": 6},
    "vision_config": {"intermediate_size": 64},
    "shared_config": {"num_hidden_layers": 1},
    "projection_dim": 30,
}


def _state(model):
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def test_pim_with_momentum_zero_is_exactly_a_fresh_model(model):
    grown = model.grow(TARGET, init="pim", momentum=0.0, seed=7)
    random = model.grow(TARGET, init="random", seed=7)
    fresh = fresh_model(GrowCLIPModel, grown.config, seed=7)
    for name, tensor in grown.state_dict().items():
        assert torch.equal(tensor, random.state_dict()[name]), name
        assert torch.equal(tensor, fresh.state_dict()[name]), name


def test_pim_with_momentum_one_inherits_old_values(model):
    grown = model.grow(TARGET, init="pim", momentum=1.0, seed=7)
    old = dict(model.named_parameters())
    new = dict(grown.named_parameters())
    assert grown.growth_mapping, "PIM must inherit something"
    for block in grown.growth_mapping:
        torch.testing.assert_close(
            new[block.new_name][block.new_slices()], old[block.old_name][block.old_slices()], atol=0, rtol=0
        )


def test_pim_mixes_inherited_and_fresh_values_by_momentum(model):
    momentum = 0.3
    grown = model.grow(TARGET, init="pim", momentum=momentum, seed=11)
    fresh = dict(fresh_model(GrowCLIPModel, grown.config, seed=11).named_parameters())
    old, new = dict(model.named_parameters()), dict(grown.named_parameters())
    for block in grown.growth_mapping:
        expected = (
            momentum * old[block.old_name][block.old_slices()]
            + (1 - momentum) * fresh[block.new_name][block.new_slices()]
        )
        torch.testing.assert_close(new[block.new_name][block.new_slices()], expected)
    # Parameters with no counterpart (new layers, the new shared encoder) are fresh.
    name = "text_model.encoder.layers.2.mlp.fc1.weight"
    assert torch.equal(new[name], fresh[name])
    assert not any(block.new_name.startswith("shared_encoder.") for block in grown.growth_mapping)


def test_random_is_seeded_and_differs_from_the_old_model(model):
    first = model.grow(TARGET, init="random", seed=3)
    second = model.grow(TARGET, init="random", seed=3)
    third = model.grow(TARGET, init="random", seed=4)
    name = "vision_model.encoder.layers.0.mlp.fc1.weight"
    assert torch.equal(first.state_dict()[name], second.state_dict()[name])
    assert not torch.equal(first.state_dict()[name], third.state_dict()[name])
    assert not torch.equal(first.state_dict()[name][:48], model.state_dict()[name])


def test_seed_none_follows_the_global_generator(model):
    torch.manual_seed(5)
    first = model.grow(TARGET, init="random")
    torch.manual_seed(5)
    second = model.grow(TARGET, init="random")
    assert first.config.growth_history[-1]["seed"] == second.config.growth_history[-1]["seed"]


def test_growth_history_records_the_step(model):
    grown = model.grow(TARGET, init="pim", momentum=0.5, seed=1)
    twice = grown.grow({"vision_config": {"num_hidden_layers": 3}}, init="preserve", seed=2)
    first, second = twice.config.growth_history
    assert first["step"] == 1 and second["step"] == 2
    assert first["init"] == "pim" and first["momentum"] == 0.5 and second["momentum"] is None
    assert "text_config.hidden_size: 32 -> 48" in first["changes"]
    assert "shared_config.num_hidden_layers: 0 -> 1" in first["changes"]
    assert first["params_before"] == sum(p.numel() for p in model.parameters())
    assert first["params_after"] == sum(p.numel() for p in grown.parameters())
    assert second["from"]["vision_config"]["num_hidden_layers"] == 2
    assert second["to"]["vision_config"]["num_hidden_layers"] == 3
    assert model.config.growth_history == []
    json.dumps(twice.config.to_dict())  # the history is plain JSON


def test_growth_mapping_is_plain_data(model):
    grown = model.grow({"text_config": {"hidden_size": 48}}, init="preserve")
    records = [block.to_dict() for block in grown.growth_mapping]
    json.dumps(records)
    query = [r for r in records if r["new_name"] == "text_model.encoder.layers.0.self_attn.q_proj.weight"]
    # head width 8 -> 12 with 4 heads: one block per old head, rows h*12 .. h*12+8 <- h*8 .. h*8+8
    assert [r["new_index"][0] for r in query] == [(0, 8), (12, 20), (24, 32), (36, 44)]
    assert [r["old_index"][0] for r in query] == [(0, 8), (8, 16), (16, 24), (24, 32)]
    assert all(r["new_index"][1] == (0, 32) for r in query)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ({"text_config": {"hidden_size": 16}}, "text_config.hidden_size=16 is smaller"),
        ({"vision_config": {"num_hidden_layers": 1}}, "vision_config.num_hidden_layers=1 is smaller"),
        ({"projection_dim": 8}, "projection_dim=8 is smaller"),
        ({"text_config": {"vocab_size": 500}}, "text_config.vocab_size is not a growable"),
        ({"audio_config": {"hidden_size": 64}}, "'audio_config' is unknown"),
        ({"text_config": {"num_attention_heads": 6}}, "text_config.num_attention_heads=6 does not fit"),
        ({"vision_config": {"hidden_size": 40.0}}, "vision_config.hidden_size must be an integer"),
        ({}, "non-empty dict"),
    ],
)
def test_bad_targets_raise_value_errors_naming_the_key(model, target, message):
    with pytest.raises(ValueError, match=message):
        model.grow(target)


def test_bad_init_and_momentum(model):
    with pytest.raises(ValueError, match="init must be one of"):
        model.grow({"projection_dim": 30}, init="copy")
    with pytest.raises(ValueError, match="momentum must be a number in"):
        model.grow({"projection_dim": 30}, init="pim", momentum=1.5)
