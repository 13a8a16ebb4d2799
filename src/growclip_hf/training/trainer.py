"""The step engine: one Accelerator, a GrowCLIP model trained by steps, and growth that swaps in a larger model."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from accelerate import Accelerator

from ..objective import contrastive_backward
from .batching import batch_to
from .config import TrainingConfig
from .optimization import lr_multiplier, optimizer_for, set_learning_rate
from .optimizer_transfer import transfer_optimizer
from .ramp import advance_growth_ramp

LOGIT_SCALE_MAX = 4.605170185988092  # ln(100)


class StreamTrainer:
    """Optimizer steps on micro-batches from any stream; no epochs, no dataloader length.

    The data loader is not handed to ``accelerator.prepare``: each process reads its own shard of the stream
    (``datasets.distributed.split_dataset_by_node``) and the trainer only moves batches to the device.
    """

    def __init__(self, config: TrainingConfig, model, accelerator: Accelerator | None = None):
        self.config = config
        self.accelerator = accelerator or Accelerator(mixed_precision=config.mixed_precision)
        self.model = None
        self.optimizer = None
        self.install(model, optimizer_for(model, config))

    # -- model and optimizer -------------------------------------------------------------------------------------
    def install(self, model, optimizer) -> None:
        """(Re)prepare a model and its optimizer; called once per architecture."""
        self.accelerator.free_memory()  # forget the previous architecture's prepared objects
        if self.config.gradient_checkpointing:
            # transformers' newer name for it; the old one warns where both exist
            enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
            enable()
        model.train()
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)

    @property
    def unwrapped_model(self):
        return self.accelerator.unwrap_model(self.model)

    def grow(self, target: dict, init: str, momentum: float, seed: int) -> None:
        """Grow the current model and carry the optimizer state over; every process passes the same arguments."""
        old_model = self.unwrapped_model
        old_optimizer = self.optimizer.optimizer if hasattr(self.optimizer, "optimizer") else self.optimizer
        grown = old_model.grow(target, init=init, momentum=momentum, seed=seed)
        new_optimizer = transfer_optimizer(old_optimizer, old_model, grown)
        self.install(grown, new_optimizer)

    def release_gradients(self) -> None:
        """Free the last step's gradients (a model's size in memory); the next step starts from zero anyway."""
        self.optimizer.zero_grad(set_to_none=True)

    # -- one optimizer step --------------------------------------------------------------------------------------
    def learning_rate(self, step_in_stage: int, stage_steps: int) -> float:
        c = self.config
        multiplier = lr_multiplier(
            c.lr_schedule, step_in_stage, stage_steps, c.warmup_steps, c.min_lr_ratio, c.decay_fraction
        )
        return c.learning_rate * multiplier

    def step(
        self,
        micro_batches: Sequence[dict],
        lr: float,
        extra_loss: Callable | None = None,
    ) -> float:
        """Forward/backward over ``micro_batches`` (feature-cached), clip, step, clamp the logit scale, ramp."""
        device = self.accelerator.device
        micro_batches = [batch_to(batch, device) for batch in micro_batches]
        self.model.train()
        set_learning_rate(self.optimizer, lr)
        self.optimizer.zero_grad(set_to_none=True)
        with self.accelerator.autocast():
            loss = contrastive_backward(
                self.model,
                micro_batches,
                no_sync=lambda: self.accelerator.no_sync(self.model),
                extra_loss=extra_loss,
            )
        if self.config.max_grad_norm:
            self.accelerator.clip_grad_norm_(self.model.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        model = self.unwrapped_model
        with torch.no_grad():
            # a converted OpenAI checkpoint sits a hair above ln(100): its own bound (config) keeps it exact
            model.logit_scale.clamp_(max=getattr(model.config, "logit_scale_max", LOGIT_SCALE_MAX))
        advance_growth_ramp(model, self.config.ramp_steps)
        return self.accelerator.reduce(loss.detach().float(), reduction="mean").item()
