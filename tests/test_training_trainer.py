"""The step engine: it learns, grows mid-training with the optimizer state, ramps, clamps, checkpoints atomically."""

import json

import pytest
import torch
from accelerate import Accelerator

from growclip_hf import GrowCLIPModel
from growclip_hf.training import StreamTrainer, TrainingConfig
from growclip_hf.training.checkpointing import complete_checkpoints, latest_checkpoint, save_checkpoint

from .helpers import perturb_, pixel_batch, text_batch, tiny_config


def _batch(seed: int, size: int = 4) -> dict:
    return {**text_batch(batch=size, seed=seed), "pixel_values": pixel_batch(batch=size, seed=seed)}


def _trainer(tmp_path, **overrides) -> StreamTrainer:
    torch.manual_seed(0)
    model = perturb_(GrowCLIPModel(tiny_config()))
    config = TrainingConfig(output_dir=str(tmp_path), learning_rate=3e-3, warmup_steps=0, **overrides)
    return StreamTrainer(config, model, accelerator=Accelerator(cpu=True))


def test_training_steps_reduce_the_loss_on_a_fixed_batch(tmp_path):
    trainer = _trainer(tmp_path)
    batch = _batch(0)
    losses = [trainer.step([batch], lr=3e-3) for _ in range(15)]
    assert losses[-1] < losses[0] * 0.7


def test_accumulation_setting_uses_feature_caching(tmp_path):
    trainer = _trainer(tmp_path, accumulation_steps=2)
    halves = [{k: v[:2] for k, v in _batch(0).items()}, {k: v[2:] for k, v in _batch(0).items()}]
    reference = _trainer(tmp_path)
    loss_cached = trainer.step(halves, lr=1e-3)
    loss_full = reference.step([_batch(0)], lr=1e-3)
    assert loss_cached == pytest.approx(loss_full, rel=1e-5)
    for (name, a), (_, b) in zip(
        trainer.unwrapped_model.named_parameters(), reference.unwrapped_model.named_parameters(), strict=True
    ):
        if name.endswith("k_proj.bias"):
            continue  # its exact gradient is zero (softmax ignores it); Adam turns the rounding noise into +-lr
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=name)


def test_logit_scale_is_clamped_after_each_step(tmp_path):
    trainer = _trainer(tmp_path)
    with torch.no_grad():
        trainer.unwrapped_model.logit_scale.fill_(5.0)
    trainer.step([_batch(0)], lr=1e-3)
    assert trainer.unwrapped_model.logit_scale.item() <= 4.6052


def test_grow_mid_training_keeps_the_function_and_the_optimizer(tmp_path):
    trainer = _trainer(tmp_path, ramp_steps=3)
    for seed in range(3):
        trainer.step([_batch(seed)], lr=1e-3)
    before = trainer.unwrapped_model
    probe = _batch(99)
    with torch.no_grad():
        old_logits = before.eval()(**probe).logits_per_image
    trainer.grow({"text_config": {"hidden_size": 48, "num_hidden_layers": 3}}, init="preserve", momentum=0.5, seed=0)
    grown = trainer.unwrapped_model
    assert grown.config.text_config.hidden_size == 48
    with torch.no_grad():
        torch.testing.assert_close(grown.eval()(**probe).logits_per_image, old_logits, atol=1e-4, rtol=0)
    name_to_param = dict(grown.named_parameters())
    state = trainer.optimizer.optimizer.state[name_to_param["vision_model.encoder.layers.0.mlp.fc1.weight"]]
    assert state["step"].item() == 3
    progress = []
    for seed in range(3):
        trainer.step([_batch(seed)], lr=1e-3)
        progress.append(trainer.unwrapped_model.growth_ramp_progress)
    assert progress[0] == pytest.approx(1 / 3) and progress[1] == pytest.approx(2 / 3) and progress[2] is None


def test_checkpoints_are_atomic_and_pruned(tmp_path):
    trainer = _trainer(tmp_path)
    root = tmp_path / "checkpoints"
    (root / ".tmp-checkpoint-00000099").mkdir(parents=True)  # a save that crashed half-way
    for step in (1, 2, 3):
        trainer.step([_batch(step)], lr=1e-3)
        save_checkpoint(trainer.accelerator, root, step, {"run": {"step": step}}, {"a": 1}, keep_last=2)
    names = [p.name for p in complete_checkpoints(root)]
    assert names == ["checkpoint-00000002", "checkpoint-00000003"]
    latest = latest_checkpoint(root)
    assert json.loads((latest / "trainer_state.json").read_text()) == {"run": {"step": 3}}
    assert (latest / "model.safetensors").exists()
    assert not any(p.suffix in (".bin", ".pt") and "model" in p.name for p in latest.iterdir())
