"""examples/custom_strategy.py: a user's own strategy runs through the public API and the stage loop's hooks."""

import copy
from pathlib import Path

import pytest
import torch

from growclip_hf import GrowCLIPModel
from growclip_hf.continual import ContinualStrategy, build_strategy
from growclip_hf.objective import contrastive_backward

from .continual_fixtures import batch, current_model, embeddings, rows, stepped

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def example(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return build_strategy("custom_strategy:EmbeddingAnchor", weight=2.5)


def test_the_example_strategy_runs_its_hooks_on_a_tiny_model(example, tmp_path):
    data = rows(batch(), 0, 6)
    model = current_model(seed=0)
    previous = stepped(model, seed=4).eval()
    assert isinstance(example, ContinualStrategy) and example.has_extra_loss and example.needs_previous_model

    example.on_task_start(0, model, None, None)
    assert example.extra_loss(*embeddings(model, data), data) is None

    example.on_task_start(1, model, previous, None)
    image, text = (t.clone().requires_grad_(True) for t in embeddings(model, data))
    old_image, old_text = embeddings(previous, data)
    distances = [((image[i] - old_image[i]) ** 2).sum() + ((text[i] - old_text[i]) ** 2).sum() for i in range(6)]
    expected = 2.5 * sum(d.item() for d in distances)
    loss = example.extra_loss(image, text, data)
    assert loss.item() == pytest.approx(expected / 6, rel=1e-5)

    trained = copy.deepcopy(model)
    contrastive_backward(trained, [data], extra_loss=example.extra_loss)
    assert trained.visual_projection.weight.grad is not None
    assert all(p.grad is None and not p.requires_grad for p in example.old_model.parameters())
    example.after_step(trained)
    example.on_task_end(1, trained)

    example.save(tmp_path)
    loaded = build_strategy("custom_strategy:EmbeddingAnchor", weight=2.5)
    loaded.load(tmp_path, GrowCLIPModel, "cpu")
    assert loaded.extra_loss(image, text, data).item() == pytest.approx(loss.item(), rel=1e-6)


def test_the_example_compares_in_a_grown_projection(example):
    data = rows(batch(), 0, 4)
    previous = current_model(seed=2).eval()
    grown = previous.grow({"projection_dim": 32}, init="preserve", seed=0)
    example.on_task_start(1, grown, previous, {"projection_dim": 32})
    loss = example.extra_loss(*embeddings(grown, data), data)
    assert loss.item() == pytest.approx(0.0, abs=1e-9)  # the same function, zero-padded
    assert torch.isfinite(loss)
