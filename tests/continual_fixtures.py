"""Distinct models and a batch for the strategy wiring tests, and a stand-in for rank 1 of 2 processes."""

import copy

import torch

from growclip_hf import GrowCLIPModel
from growclip_hf.objective import contrastive_backward

from .helpers import perturb_, pixel_batch, text_batch, tiny_config

BATCH = 16


def batch(size: int = BATCH, seed: int = 3) -> dict:
    return {**text_batch(batch=size, seq_len=10, seed=seed), "pixel_values": pixel_batch(batch=size, seed=seed)}


def rows(data: dict, start: int, stop: int) -> dict:
    return {key: value[start:stop] for key, value in data.items()}


def current_model(seed: int = 0, shared_layers: int = 0) -> GrowCLIPModel:
    torch.manual_seed(seed)
    return perturb_(GrowCLIPModel(tiny_config(shared_layers=shared_layers)), seed=seed).train()


def old_model(data: dict, shared_layers: int = 0, steps: int = 3) -> GrowCLIPModel:
    """A model that retrieves about half of ``data``'s pairs correctly (so Mod-X keeps some rows and drops others)."""
    model = current_model(seed=1, shared_layers=shared_layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        optimizer.zero_grad()
        contrastive_backward(model, [data])
        optimizer.step()
    return model.eval()


def stepped(model, seed: int) -> GrowCLIPModel:
    """The model after a pretend optimizer step: every weight moved."""
    return perturb_(copy.deepcopy(model), seed=seed, scale=0.02)


def embeddings(model, data: dict) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        out = model(**data)
    return out.image_embeds, out.text_embeds


def mixed_weights(momentum_model, old, student, momentum: float, anchor_weight: float) -> GrowCLIPModel:
    """m * momentum_model + (1 - m) * (a * old + (1 - a) * student), parameter by parameter from the state dicts."""
    mixed = copy.deepcopy(student).eval()
    states = momentum_model.state_dict(), old.state_dict(), student.state_dict()
    names = {name for name, _ in mixed.named_parameters()}
    result = {}
    for name, value in mixed.state_dict().items():
        if name in names:
            m, o, s = (state[name] for state in states)
            value = momentum * m + (1 - momentum) * anchor_weight * o + (1 - momentum) * (1 - anchor_weight) * s
        result[name] = value
    mixed.load_state_dict(result)
    return mixed


class RankOneOfTwo:
    """Stands in for torch.distributed on rank 1 of 2: gathering a tensor of this rank's rows (8..15 of the global
    batch) returns rank 0's rows of the same quantity (looked up among ``global_tensors``) followed by it."""

    def __init__(self, global_tensors: list[torch.Tensor]):
        self.global_tensors = [t.detach() for t in global_tensors]
        self.gathered = []

    def rank_and_world_size(self) -> tuple[int, int]:
        return 1, 2

    def gather_with_grad(self, local: torch.Tensor) -> torch.Tensor:
        half = local.shape[0]
        for full in self.global_tensors:
            if full.shape == (2 * half, local.shape[1]) and torch.allclose(full[half:], local.detach(), atol=1e-5):
                self.gathered.append(full)
                return torch.cat([full[:half].to(local.dtype), local])
        raise AssertionError("gathered a tensor that is no rows 8..15 of a known global-batch quantity")

    def install(self, monkeypatch, *modules) -> None:
        for module in modules:
            monkeypatch.setattr(module, "rank_and_world_size", self.rank_and_world_size)
            monkeypatch.setattr(module, "gather_with_grad", self.gather_with_grad)
