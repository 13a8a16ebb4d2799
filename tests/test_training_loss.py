"""The global-batch loss and feature-cached accumulation give the gradients of one big batch."""

import os

import pytest
import torch
import torch.multiprocessing as mp

from growclip_hf import GrowCLIPModel
from growclip_hf.objective import contrastive_backward, global_contrastive_loss
from growclip_hf.training import warmup_cosine

from .helpers import perturb_, pixel_batch, text_batch, tiny_config
from .run_helpers import free_port


def _batch(size: int, seed: int) -> dict:
    return {**text_batch(batch=size, seq_len=10, seed=seed), "pixel_values": pixel_batch(batch=size, seed=seed)}


def _split(batch: dict, parts: int) -> list[dict]:
    size = batch["input_ids"].shape[0] // parts
    return [{k: v[i * size : (i + 1) * size] for k, v in batch.items()} for i in range(parts)]


def _grads(model) -> dict:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _model(seed: int = 0) -> GrowCLIPModel:
    torch.manual_seed(seed)
    return perturb_(GrowCLIPModel(tiny_config(shared_layers=1)), seed=seed).train()


def test_single_process_loss_equals_the_model_loss():
    model = _model()
    batch = _batch(4, seed=1)
    out = model(**batch, return_loss=True)
    loss = global_contrastive_loss(out.image_embeds, out.text_embeds, out.logit_scale)
    torch.testing.assert_close(loss, out.loss)


@pytest.mark.parametrize("parts", [2, 3])
def test_feature_cached_accumulation_matches_one_big_batch(parts):
    model = _model()
    batch = _batch(6, seed=2)
    full_loss = contrastive_backward(model, [batch])
    expected = _grads(model)
    model.zero_grad()
    cached_loss = contrastive_backward(model, _split(batch, parts))
    torch.testing.assert_close(cached_loss, full_loss)
    for name, grad in _grads(model).items():
        torch.testing.assert_close(grad, expected[name], atol=1e-6, rtol=1e-4, msg=name)
    assert "logit_scale" in expected


def test_plain_accumulation_would_differ():
    """Sanity check of the test above: scoring micro-batches separately changes the gradient."""
    model = _model()
    batch = _batch(6, seed=2)
    contrastive_backward(model, [batch])
    expected = _grads(model)
    model.zero_grad()
    for micro in _split(batch, 2):
        contrastive_backward(model, [micro])
    name = "vision_model.encoder.layers.0.mlp.fc1.weight"
    assert not torch.allclose(_grads(model)[name] / 2, expected[name], atol=1e-6)


def _two_process_worker(rank: int, port: int, result_dir: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    model = _model()
    batch = _batch(6, seed=2)
    local = {k: v[rank * 3 : (rank + 1) * 3] for k, v in batch.items()}
    loss = contrastive_backward(model, _split(local, 1 if rank == 0 else 3))  # ranks may accumulate differently
    grads = _grads(model)
    for grad in grads.values():  # what DDP does: average gradients across processes
        dist.all_reduce(grad)
        grad /= 2
    dist.all_reduce(loss)
    torch.save({"loss": loss / 2, "grads": grads}, os.path.join(result_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def test_two_processes_see_the_global_batch(tmp_path):
    mp.spawn(_two_process_worker, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    model = _model()
    full_loss = contrastive_backward(model, [_batch(6, seed=2)])
    expected = _grads(model)
    for rank in (0, 1):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(result["loss"], full_loss, atol=1e-6, rtol=1e-5)
        for name, grad in result["grads"].items():
            torch.testing.assert_close(grad, expected[name], atol=1e-6, rtol=1e-4, msg=name)


def test_warmup_then_cosine():
    values = [warmup_cosine(step, total_steps=12, warmup_steps=2, min_ratio=0.1) for step in range(13)]
    assert values[0] == pytest.approx(0.5) and values[1] == pytest.approx(1.0)
    assert values[2] == pytest.approx(1.0)
    assert values[7] == pytest.approx(0.1 + 0.9 * 0.5)
    assert values[12] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(values[1:], values[2:], strict=False))
