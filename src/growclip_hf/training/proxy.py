"""Brief training of a growth candidate, handed to the growth search by the stage loop.

The search (``growth.search``) sits beside training, not above it, so it does not import the step engine; the caller
passes it an instance of this class. Each candidate starts from the current optimizer's state (moments of inherited
slices carried over, new slices at zero) and trains on the same proxy batches, on one process without gathering.
"""

from __future__ import annotations

import torch

from ..models.growclip.growth_mapping_growclip import growth_mapping
from ..objective import contrastive_backward
from .optimization import set_learning_rate
from .optimizer_transfer import transfer_optimizer
from .ramp import advance_growth_ramp


class ProxyTrainer:
    """``trainer(candidate, steps)`` trains ``candidate`` (grown from ``model``, or a copy) in place."""

    def __init__(self, model, optimizer: torch.optim.Optimizer, batches: list[dict], learning_rate: float):
        if not batches:
            raise ValueError("The growth search needs at least one proxy batch.")
        self.model = model
        self.optimizer = getattr(optimizer, "optimizer", optimizer)  # Accelerate's wrapper keeps the state inside
        self.batches = batches
        self.learning_rate = learning_rate

    @property
    def pairs_per_step(self) -> int:
        return self.batches[0]["input_ids"].shape[0]

    def __call__(self, candidate, steps: int) -> None:
        optimizer = transfer_optimizer(
            self.optimizer, self.model, candidate, mapping=growth_mapping(self.model, candidate)
        )
        for step in range(steps):
            candidate.train()
            set_learning_rate(optimizer, self.learning_rate)
            optimizer.zero_grad(set_to_none=True)
            contrastive_backward(candidate, [self.batches[step % len(self.batches)]], gather=False)
            optimizer.step()
            advance_growth_ramp(candidate, steps)
