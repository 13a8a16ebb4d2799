"""Brief training of a growth candidate, handed to the growth search by the stage loop.

The search (``growth.search``) sits beside training, not above it, so it does not import the step engine; the caller
passes it an instance of this class. Each candidate starts from the current optimizer's state (moments of inherited
slices carried over, new slices at zero) and trains on the same proxy batches, on one process without gathering.
A candidate trained again (the next round of successive halving) continues where it stopped: its own optimizer, the
next batches, its ramp.
"""

from __future__ import annotations

import contextlib
import weakref
from pathlib import Path

import torch

from ..models.growclip.growth_mapping_growclip import growth_mapping
from ..objective import contrastive_backward
from .optimization import set_learning_rate
from .optimizer_transfer import transfer_optimizer
from .parked_weights import parked_weights
from .ramp import advance_growth_ramp


class ProxyTrainer:
    """``trainer(candidate, steps)`` trains ``candidate`` (grown from ``model``, or a copy) in place."""

    def __init__(
        self,
        model,
        optimizer: torch.optim.Optimizer,
        batches: list[dict],
        learning_rate: float,
        warmup_share: float = 0.0,
        ramp_share: float = 1.0,
        park_dir: str | Path | None = None,
    ):
        """``warmup_share``: the first share of each candidate's planned steps ramps the rate up linearly, as a stage
        starts (without it every candidate starts at the peak rate; on the growth sweep it changed no decision).
        ``ramp_share``: the share of its planned steps over which a width-grown candidate opens its new units. At 1 it
        is scored the step its ramp closes, when the opened units disturb it most; a stage opens them over its first
        ``training.ramp_steps`` and then has the rest of its steps to adapt, which a smaller share imitates.
        ``park_dir``: where the current model's weights wait while a candidate trains (``parked_weights``); None keeps
        them in memory."""
        if not batches:
            raise ValueError("The growth search needs at least one proxy batch.")
        if not 0.0 <= warmup_share <= 1.0:
            raise ValueError(f"warmup_share must be in [0, 1], got {warmup_share}.")
        if not 0.0 < ramp_share <= 1.0:
            raise ValueError(f"ramp_share must be in (0, 1], got {ramp_share}.")
        self.warmup_share, self.ramp_share = warmup_share, ramp_share
        self.park_dir = park_dir
        self.model = model
        self.optimizer = getattr(optimizer, "optimizer", optimizer)  # Accelerate's wrapper keeps the state inside
        self.batches = batches
        self.learning_rate = learning_rate
        # per candidate, dropped with it (an id() could be reused by the next candidate)
        self._optimizers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._steps_done: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @property
    def pairs_per_step(self) -> int:
        return self.batches[0]["input_ids"].shape[0]

    def __call__(self, candidate, steps: int, total_steps: int | None = None) -> None:
        """Train ``steps`` more steps; a width-growth ramp opens over ``total_steps`` (default ``steps``)."""
        key = candidate
        if key not in self._optimizers:
            mapping = growth_mapping(self.model, candidate)
            self._optimizers[key] = transfer_optimizer(self.optimizer, self.model, candidate, mapping=mapping)
        optimizer, done = self._optimizers[key], self._steps_done.get(key, 0)
        warmup = self.warmup_share * (total_steps or steps)
        parked = parked_weights(self.model, self.park_dir) if self.park_dir and steps else contextlib.nullcontext()
        with parked:  # the candidate and its optimizer are built: the model is not read until the next candidate
            for step in range(done, done + steps):
                candidate.train()
                set_learning_rate(
                    optimizer, self.learning_rate * min(1.0, (step + 1) / warmup) if warmup else self.learning_rate
                )
                optimizer.zero_grad(set_to_none=True)
                contrastive_backward(candidate, [self.batches[step % len(self.batches)]], gather=False)
                optimizer.step()
                advance_growth_ramp(candidate, max(1, round(self.ramp_share * (total_steps or steps))))
        self._steps_done[key] = done + steps
