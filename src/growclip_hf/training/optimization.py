"""AdamW with the CLIP recipe's parameter groups, and a learning rate by steps: warmup + cosine, or warmup-stable-decay.

Both schedules are computed from the step alone, so they survive growth (new optimizer) and resume without a scheduler
object. Warmup-stable-decay (WSD) holds the peak rate until the last ``decay_fraction`` of a stage and then decays
linearly: each stage still ends decayed (the published model), while the stable part reads the model's capacity
without the rate's own decay in the loss (what the growth trigger needs; a cosine falls from the first step).
"""

from __future__ import annotations

import math

import torch

from .optimizer_transfer import is_no_decay_parameter
from .width_rule import WIDTH_RULES, refresh_width_scales, width_key

SCHEDULES = ("cosine", "wsd")


def parameter_groups(
    model: torch.nn.Module, weight_decay: float, width_rule: str = "none", base_width: int | None = None
) -> list[dict]:
    """Weight decay on matrices only: no decay on norms, biases, embeddings and the logit scale.

    ``width_rule="mup"`` splits the decayed matrices by the width they read, each group with ``lr_scale =
    base_width / width`` (``growclip_hf.training.width_rule``); the rest keeps scale 1.
    """
    if width_rule not in WIDTH_RULES:
        raise ValueError(f"lr_width_rule must be one of {WIDTH_RULES}, got {width_rule!r}.")
    decay: dict[str | None, list] = {}
    no_decay = []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if is_no_decay_parameter(name, parameter):
            no_decay.append(parameter)
        else:
            key = width_key(name, parameter) if width_rule == "mup" else None
            decay.setdefault(key, []).append(parameter)
    groups = []
    for key, params in sorted(decay.items(), key=lambda item: item[0] or ""):  # the order a transfer also gives
        group = {"params": params, "weight_decay": weight_decay}
        if key is not None:
            if not base_width:
                raise ValueError("lr_width_rule='mup' needs lr_base_width (the width that trains at the base rate).")
            group.update(width_key=key, base_width=int(base_width))
        groups.append(group)
    return [*groups, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    betas=(0.9, 0.98),
    eps=1e-6,
    width_rule: str = "none",
    base_width: int | None = None,
):
    groups = [g for g in parameter_groups(model, weight_decay, width_rule, base_width) if g["params"]]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), eps=eps)
    refresh_width_scales(optimizer, model.config)
    return optimizer


def optimizer_for(model: torch.nn.Module, config) -> torch.optim.Optimizer:
    """The optimizer a ``TrainingConfig`` asks for (also what a resume rebuilds before loading the saved state)."""
    return build_optimizer(
        model,
        config.learning_rate,
        config.weight_decay,
        config.betas,
        width_rule=config.lr_width_rule,
        base_width=config.lr_base_width,
    )


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0) -> float:
    """LR multiplier at ``step`` (0-based): linear warmup, then cosine decay to ``min_ratio`` at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def decay_start(total_steps: int, warmup_steps: int, decay_fraction: float) -> int:
    """The first step of a WSD schedule's decay; steps before it (after warmup) are the stable part."""
    return max(warmup_steps, total_steps - math.ceil(decay_fraction * total_steps))


def warmup_stable_decay(
    step: int, total_steps: int, warmup_steps: int, min_ratio: float = 0.0, decay_fraction: float = 0.2
) -> float:
    """LR multiplier at ``step``: linear warmup, the peak until ``decay_start``, then linear to ``min_ratio``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    start = decay_start(total_steps, warmup_steps, decay_fraction)
    if step < start:
        return 1.0
    progress = min((step - start + 1) / max(total_steps - start, 1), 1.0)
    return 1.0 - (1.0 - min_ratio) * progress


def lr_multiplier(schedule: str, step: int, total_steps: int, warmup_steps: int, min_ratio: float, decay_fraction):
    if schedule == "wsd":
        return warmup_stable_decay(step, total_steps, warmup_steps, min_ratio, decay_fraction)
    if schedule == "cosine":
        return warmup_cosine(step, total_steps, warmup_steps, min_ratio)
    raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {schedule!r}.")


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The peak-relative rate ``lr`` times each group's ``lr_scale`` (1 unless a width rule set it)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
