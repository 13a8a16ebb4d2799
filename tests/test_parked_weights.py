"""The model's weights wait on disk while a growth candidate trains: freed inside, bit-exact after, nothing left."""

import copy

import pytest
import torch

from growclip_hf import GrowCLIPModel
from growclip_hf.growth import GrowthSpace, SearchSettings, run_search
from growclip_hf.training.parked_weights import parked_weights
from growclip_hf.training.proxy import ProxyTrainer

from .helpers import perturb_, pixel_batch, text_batch, tiny_config


def _batch(size: int, seed: int) -> dict:
    return {**text_batch(size, seed=seed), "pixel_values": pixel_batch(size, seed=seed)}


def test_parked_weights_are_freed_inside_and_bit_exact_after(tmp_path):
    model = perturb_(GrowCLIPModel(tiny_config(shared_layers=1)), seed=3)
    model.text_model.embeddings.token_embedding.weight.data = model.text_model.embeddings.token_embedding.weight.to(
        torch.bfloat16
    )  # a second dtype in the same file
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    with parked_weights(model, tmp_path / "park"):
        assert all(p.numel() == 0 for p in model.parameters())
        assert (tmp_path / "park").is_dir()
    assert not (tmp_path / "park").exists()
    after = dict(model.named_parameters())
    assert after.keys() == before.keys()
    for name, value in before.items():
        assert after[name].dtype == value.dtype and torch.equal(after[name], value), name


def test_a_parked_model_is_restored_when_the_scope_raises(tmp_path):
    model = perturb_(GrowCLIPModel(tiny_config()), seed=1)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(RuntimeError, match="inside"), parked_weights(model, tmp_path / "park"):
        raise RuntimeError("inside")
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before, strict=True))


def test_a_search_with_parked_weights_scores_and_trains_exactly_as_without(tmp_path):
    torch.manual_seed(0)
    model = perturb_(GrowCLIPModel(tiny_config()), seed=0)
    candidates = [c for c in GrowthSpace().candidates(model.config) if c.name in ("keep", "vision-width")]
    batches, heldout = [_batch(8, seed) for seed in range(2)], _batch(16, seed=9)
    settings = SearchSettings(max_search_fraction=1.0, min_proxy_steps=3, max_proxy_steps=3)
    records = []
    for park_dir in (None, tmp_path / "park"):
        twin = copy.deepcopy(model)
        optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-3)
        proxy = ProxyTrainer(twin, optimizer, batches, learning_rate=1e-3, park_dir=park_dir)
        records.append(run_search(twin, candidates, proxy, 8, heldout, 1e15, settings, seed=0).to_dict())
        assert all(torch.equal(a, b) for a, b in zip(twin.parameters(), model.parameters(), strict=True))
    plain, parked = records
    assert [c["proxy_steps"] for c in parked["candidates"]] == [3, 3]
    assert [c["heldout_loss"] for c in parked["candidates"]] == [c["heldout_loss"] for c in plain["candidates"]]
    assert not (tmp_path / "park").exists()
