"""Warmup-stable-decay within a stage, and a learning rate per width (µP-style) that follows growth."""

import pytest
import torch
from accelerate import Accelerator

from growclip_hf import GrowCLIPModel
from growclip_hf.training import StreamTrainer, TrainingConfig, transfer_optimizer, warmup_stable_decay
from growclip_hf.training.optimization import build_optimizer, decay_start, set_learning_rate

from .helpers import perturb_, pixel_batch, text_batch, tiny_config


def test_wsd_warms_up_holds_the_peak_then_decays_to_the_floor():
    total, warmup = 100, 10
    values = [warmup_stable_decay(step, total, warmup, min_ratio=0.1, decay_fraction=0.2) for step in range(total)]
    assert values[:warmup] == pytest.approx([(s + 1) / warmup for s in range(warmup)])
    start = decay_start(total, warmup, 0.2)
    assert start == 80
    assert all(v == 1.0 for v in values[warmup:start])  # the stable part: the peak, nothing decays
    decay = values[start:]
    assert all(a > b for a, b in zip(decay, decay[1:], strict=False))
    assert decay[-1] == pytest.approx(0.1) and decay[0] < 1.0


def test_the_trainer_follows_the_configured_schedule(tmp_path):
    model = GrowCLIPModel(tiny_config())
    config = TrainingConfig(output_dir=str(tmp_path), learning_rate=1e-3, warmup_steps=5, lr_schedule="wsd")
    trainer = StreamTrainer(config, model, accelerator=Accelerator(cpu=True))
    assert trainer.learning_rate(50, 100) == pytest.approx(1e-3)  # cosine would be at about half by now
    assert trainer.learning_rate(99, 100) == pytest.approx(1e-3 * config.min_lr_ratio)
    cosine = StreamTrainer(TrainingConfig(output_dir=str(tmp_path), warmup_steps=5), model, Accelerator(cpu=True))
    assert cosine.learning_rate(50, 100) < 0.6 * cosine.config.learning_rate


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"lr_schedule": "linear"}, "lr_schedule"),
        ({"decay_fraction": 0.0}, "decay_fraction"),
        ({"lr_width_rule": "sqrt"}, "lr_width_rule"),
        ({"lr_width_rule": "mup"}, "lr_base_width"),
    ],
)
def test_bad_schedule_settings_say_what_to_fix(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**overrides)


def _scales(optimizer, model) -> dict[str, float]:
    names = {p: n for n, p in model.named_parameters()}
    return {names[p]: g.get("lr_scale", 1.0) for g in optimizer.param_groups for p in g["params"]}


def test_mup_scales_hidden_matrices_by_base_width_over_width():
    model = GrowCLIPModel(tiny_config(vision_config={"hidden_size": 64, "intermediate_size": 96,
                                                     "num_hidden_layers": 2, "num_attention_heads": 4,
                                                     "image_size": 32, "patch_size": 8}))  # fmt: skip
    optimizer = build_optimizer(model, 1e-3, 0.1, width_rule="mup", base_width=16)
    scales = _scales(optimizer, model)
    assert scales["text_model.encoder.layers.0.mlp.fc1.weight"] == pytest.approx(16 / 32)
    assert scales["vision_model.encoder.layers.1.self_attn.q_proj.weight"] == pytest.approx(16 / 64)
    assert scales["visual_projection.weight"] == pytest.approx(16 / 64)
    assert scales["text_model.embeddings.token_embedding.weight"] == 1.0  # embeddings read no hidden width
    assert scales["text_model.encoder.layers.0.layer_norm1.weight"] == 1.0
    set_learning_rate(optimizer, 2e-3)
    rates = {g.get("width_key"): g["lr"] for g in optimizer.param_groups}
    assert rates["vision_config"] == pytest.approx(2e-3 * 16 / 64) and rates[None] == pytest.approx(2e-3)


def test_a_first_adam_step_moves_each_width_by_its_own_rate():
    """Adam's first step moves every entry by about lr: under the rule, a 64-wide tower's by a quarter of it."""
    torch.manual_seed(0)
    model = perturb_(GrowCLIPModel(tiny_config()))
    optimizer = build_optimizer(model, 1e-3, 0.0, width_rule="mup", base_width=8)
    set_learning_rate(optimizer, 1e-3)
    weight = model.text_model.encoder.layers[0].mlp.fc1.weight
    embedding = model.text_model.embeddings.token_embedding.weight
    before, embedding_before = weight.detach().clone(), embedding.detach().clone()
    model(**text_batch(batch=4), pixel_values=pixel_batch(batch=4), return_loss=True).loss.backward()
    optimizer.step()
    moved = (weight.detach() - before).abs()
    assert moved.max().item() == pytest.approx(1e-3 * 8 / 32, rel=1e-3)
    touched = (embedding.detach() - embedding_before).abs()
    assert touched.max().item() == pytest.approx(1e-3, rel=1e-3)


def test_growth_lowers_the_rate_of_a_widened_tower_and_places_new_layers_by_width():
    model = perturb_(GrowCLIPModel(tiny_config()))
    optimizer = build_optimizer(model, 1e-3, 0.1, width_rule="mup", base_width=32)
    target = {"text_config": {"hidden_size": 64}, "shared_config": {"num_hidden_layers": 1, "hidden_size": 64}}
    grown = model.grow(target, init="preserve", seed=0)
    scales = _scales(transfer_optimizer(optimizer, model, grown), grown)
    assert scales["text_model.encoder.layers.0.mlp.fc1.weight"] == pytest.approx(0.5)
    assert scales["vision_model.encoder.layers.0.mlp.fc1.weight"] == pytest.approx(1.0)
    assert scales["shared_encoder.encoder.layers.0.mlp.fc2.weight"] == pytest.approx(0.5)  # a new group
    assert scales["shared_encoder.vision_input_projection.weight"] == pytest.approx(1.0)  # reads the vision stream
    assert scales["visual_projection.weight"] == pytest.approx(0.5)  # now reads the shared encoder's output


def test_a_resume_rebuilds_the_groups_that_growth_left():
    """A checkpoint after growth holds the transferred optimizer; a fresh build for the grown model must load it."""
    model = perturb_(GrowCLIPModel(tiny_config()))
    optimizer = build_optimizer(model, 1e-3, 0.1, width_rule="mup", base_width=32)
    target = {"text_config": {"hidden_size": 64}, "shared_config": {"num_hidden_layers": 1, "hidden_size": 64}}
    grown = model.grow(target, init="preserve", seed=0)
    moved = transfer_optimizer(optimizer, model, grown)
    rebuilt = build_optimizer(grown, 1e-3, 0.1, width_rule="mup", base_width=32)
    rebuilt.load_state_dict(moved.state_dict())
    assert _scales(rebuilt, grown) == _scales(moved, grown)
    assert [len(g["params"]) for g in rebuilt.param_groups] == [len(g["params"]) for g in moved.param_groups]
