"""The contrastive objective as the strategies use it: extra terms under feature-cached accumulation, DDP's no_sync."""

import contextlib

import pytest
import torch

from growclip_hf.continual import build_strategy
from growclip_hf.objective import contrastive_backward, global_contrastive_loss, rank_and_world_size

from .continual_fixtures import batch, current_model, old_model, rows


@pytest.fixture(scope="module")
def setup() -> dict:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    data = batch(12)
    yield {"batch": data, "old": old_model(data)}
    torch.set_num_threads(threads)


def _grads(model) -> dict:
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", ["modx", "ctp"])
def test_strategy_terms_under_accumulation_give_the_one_batch_gradient(setup, name):
    data, old = setup["batch"], setup["old"]
    results = []
    for micro_batches in ([data], [rows(data, 0, 4), rows(data, 4, 8), rows(data, 8, 12)]):
        model = current_model(seed=0)
        strategy = build_strategy(name, global_batch_size=12) if name == "modx" else build_strategy(name)
        strategy.on_task_start(1, model, old, None)
        loss = contrastive_backward(model, micro_batches, extra_loss=strategy.extra_loss)
        results.append((loss, _grads(model)))
    (loss, expected), (cached_loss, grads) = results
    torch.testing.assert_close(cached_loss, loss)
    assert set(grads) == set(expected)
    for key, grad in grads.items():
        torch.testing.assert_close(grad, expected[key], atol=1e-6, rtol=1e-4, msg=key)


def _extra(images, texts, batch):
    """A term that tells images from texts and from the batch's inputs."""
    return 3.0 * (images * texts.flip(0)).sum() + images[:, 0].sum() - 0.01 * batch["pixel_values"].mean() * texts.sum()


@pytest.mark.parametrize("parts", [1, 3])
def test_a_strategy_term_enters_the_loss_and_the_gradient(setup, parts):
    data = setup["batch"]
    model = current_model(seed=0, shared_layers=1)
    out = model(**data)
    expected_loss = global_contrastive_loss(out.image_embeds, out.text_embeds, out.logit_scale)
    expected_loss = expected_loss + _extra(out.image_embeds, out.text_embeds, data)
    expected_loss.backward()
    expected = _grads(model)
    model.zero_grad()
    size = 12 // parts
    micro_batches = [rows(data, i * size, (i + 1) * size) for i in range(parts)]
    loss = contrastive_backward(model, micro_batches, extra_loss=_extra)
    torch.testing.assert_close(loss, expected_loss.detach())
    for key, grad in _grads(model).items():
        torch.testing.assert_close(grad, expected[key], atol=1e-6, rtol=1e-4, msg=key)


def test_the_returned_loss_is_the_models_loss_and_holds_no_graph(setup):
    data = setup["batch"]
    model = current_model(seed=0, shared_layers=1)
    with torch.no_grad():
        expected = model(**data, return_loss=True).loss
    for micro_batches in ([data], [rows(data, 0, 5), rows(data, 5, 12)]):
        loss = contrastive_backward(model, micro_batches)
        assert not loss.requires_grad and loss.grad_fn is None
        torch.testing.assert_close(loss, expected)


def test_feature_cache_syncs_gradients_only_on_the_last_micro_batch(setup):
    data = setup["batch"]
    model = current_model(seed=0)
    events = []
    model.register_forward_pre_hook(lambda module, args, kwargs: events.append("forward"), with_kwargs=True)

    @contextlib.contextmanager
    def no_sync():
        events.append("no_sync")
        yield
        events.append("synced")

    contrastive_backward(model, [rows(data, 0, 4), rows(data, 4, 8), rows(data, 8, 12)], no_sync=no_sync)
    cache, replay = events[:3], events[3:]
    assert cache == ["forward"] * 3  # embedding every micro-batch without gradients first
    assert replay == ["no_sync", "forward", "synced", "no_sync", "forward", "synced", "forward"]
    events.clear()
    contrastive_backward(model, [data], no_sync=no_sync)
    assert events == ["forward"]  # one micro-batch: one forward, gradients synchronised


def test_outside_a_process_group_this_is_rank_0_of_1():
    assert rank_and_world_size() == (0, 1)
