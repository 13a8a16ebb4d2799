"""Carry an optimizer across growth: the moments of inherited slices move with them, new slices start at zero.

AdamW keeps one step count per tensor, so a tensor that grew cannot give its old and new entries different bias
corrections. Keeping the old count (the previous rule) skipped the correction for the new entries: their zero
moments, divided by ~1, under-estimate the second moment far more than the first (beta2 forgets slower than beta1),
and with the CLIP betas (0.9, 0.98) their updates reached 1.5x a fresh start's for tens of steps. A grown tensor
therefore restarts at step 1 with its inherited entries' moments set to their bias-corrected values times
``(1 - beta)``: at step 1 a bias-corrected read gives the inherited entries exactly their old estimates, and the new
entries (still zero) are a fresh start one step late, whose updates stay within 26 % below and 1 % above a fresh
start's (constant gradient) and agree within 1 % after 10 steps. The price: the inherited entries' history weighs as
one step, so their estimates adapt faster to new gradients for a few steps. Tensors that did not grow keep their
state and count.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

from ..models.growclip.growth_mapping_growclip import SliceBlock, growth_mapping
from .width_rule import refresh_width_scales, width_key


def is_no_decay_parameter(name: str, parameter: torch.nn.Parameter) -> bool:
    """Norms, biases, embeddings and the logit scale are not weight-decayed (the usual CLIP recipe)."""
    return parameter.ndim < 2 or "norm" in name or "embedding" in name or name.endswith(("bias", "logit_scale"))


def _unwrap(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """Accelerate wraps optimizers; the state lives in the inner one."""
    return getattr(optimizer, "optimizer", optimizer)


def _group_index_for_new_parameter(name: str, parameter: torch.nn.Parameter, groups: list, group_for) -> int:
    """The group of the first same-kind parameter; under a width rule, the group reading the same width (a new one,
    with the same hyper-parameters, when none does yet: e.g. the first layer of a new shared encoder)."""
    if group_for is not None:
        return group_for(name, parameter)
    kind = is_no_decay_parameter(name, parameter)
    same_kind = [index for index, group in enumerate(groups) if group["no_decay"] == kind]
    if not same_kind:
        return 0
    if not any("width_key" in groups[index] for index in same_kind):
        return same_kind[0]
    key = width_key(name, parameter)
    for index in same_kind:
        if groups[index].get("width_key") == key:
            return index
    template = {k: v for k, v in groups[same_kind[0]].items() if k not in ("params", "width_key", "lr_scale")}
    groups.append({**template, "params": [], **({"width_key": key} if key else {})})
    return len(groups) - 1


def transfer_optimizer(
    old_optimizer: torch.optim.Optimizer,
    old_model: torch.nn.Module,
    new_model: torch.nn.Module,
    mapping: list[SliceBlock] | None = None,
    group_for: Callable[[str, torch.nn.Parameter], int] | None = None,
) -> torch.optim.Optimizer:
    """A new optimizer of the same class and hyper-parameters over ``new_model``'s parameters.

    Every parameter joins the param group of its counterpart (same name) in the old model; parameters with no
    counterpart join the first group holding parameters of the same decay kind (or ``group_for(name, param)``).
    Per-element state tensors (e.g. AdamW's ``exp_avg``/``exp_avg_sq``) are copied block by block along ``mapping``
    (default: ``new_model.growth_mapping``), zero elsewhere; inherited parameters keep their step count, brand-new
    parameters start at step 0 so their bias correction is that of a fresh start. A parameter that grew restarts at
    step 1 with its inherited moments bias-corrected (see the module docstring), so its new entries are corrected as
    if fresh.
    """
    old_optimizer = _unwrap(old_optimizer)
    if mapping is None:
        mapping = getattr(new_model, "growth_mapping", None) or growth_mapping(old_model, new_model)
    old_names = {parameter: name for name, parameter in old_model.named_parameters()}
    old_by_name = {name: parameter for parameter, name in old_names.items()}
    unknown = [p for group in old_optimizer.param_groups for p in group["params"] if p not in old_names]
    if unknown:
        raise ValueError(f"The optimizer holds {len(unknown)} parameters that are not in old_model.")
    group_of_old = {
        old_names[p]: index for index, group in enumerate(old_optimizer.param_groups) for p in group["params"]
    }

    new_groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": []} for g in old_optimizer.param_groups]
    for group, old_group in zip(new_groups, old_optimizer.param_groups, strict=True):
        group["no_decay"] = any(is_no_decay_parameter(old_names[p], p) for p in old_group["params"])
    for name, parameter in new_model.named_parameters():
        if not parameter.requires_grad:
            continue
        index = group_of_old.get(name)
        if index is None:
            index = _group_index_for_new_parameter(name, parameter, new_groups, group_for)
        new_groups[index]["params"].append(parameter)
    if any("width_key" in group for group in new_groups):  # the order a fresh build gives, so a resume can load it
        new_groups.sort(key=lambda group: (group["no_decay"], group.get("width_key") or ""))
    new_groups = [{k: v for k, v in group.items() if k != "no_decay"} for group in new_groups if group["params"]]
    accepted = inspect.signature(type(old_optimizer).__init__).parameters
    defaults = {key: value for key, value in old_optimizer.defaults.items() if key in accepted}
    new_optimizer = type(old_optimizer)(new_groups, **defaults)
    for group, old_group in zip(new_optimizer.param_groups, new_groups, strict=True):
        group.update({k: v for k, v in old_group.items() if k != "params"})

    blocks_by_name: dict[str, list[SliceBlock]] = {}
    for block in mapping:
        blocks_by_name.setdefault(block.new_name, []).append(block)
    for name, parameter in new_model.named_parameters():
        old_parameter = old_by_name.get(name)
        old_state = old_optimizer.state.get(old_parameter) if old_parameter is not None else None
        if not old_state:
            continue
        betas = old_optimizer.param_groups[group_of_old[name]].get("betas")
        new_optimizer.state[parameter] = _transfer_state(old_state, parameter, blocks_by_name.get(name, []), betas)
    # a grown tower reads a wider stream: under a width rule, a smaller rate
    refresh_width_scales(new_optimizer, getattr(new_model, "config", None))
    return new_optimizer


@torch.no_grad()
def _transfer_state(old_state: dict, parameter: torch.nn.Parameter, blocks: list[SliceBlock], betas=None) -> dict:
    new_state = {}
    grew = bool(blocks) and tuple(parameter.shape) != _old_shape(blocks)
    for key, value in old_state.items():
        if isinstance(value, torch.Tensor) and value.ndim > 0 and blocks and value.shape == _old_shape(blocks):
            moved = torch.zeros_like(parameter, dtype=value.dtype, memory_format=torch.preserve_format)
            for block in blocks:
                moved[block.new_slices()] = value[block.old_slices()].to(moved.device)
            new_state[key] = moved
        elif isinstance(value, torch.Tensor) and value.ndim == 0 and parameter.ndim == 0:
            new_state[key] = value.clone()  # scalar parameters (logit_scale): their moments and step
        elif isinstance(value, torch.Tensor):
            new_state[key] = value.clone()  # step counters and other scalars
        else:
            new_state[key] = value
    if grew and betas is not None and _is_adam_state(new_state):
        _restart_at_step_one(new_state, old_state["step"], betas)
    return new_state


def _is_adam_state(state: dict) -> bool:
    return {"step", "exp_avg", "exp_avg_sq"} <= set(state) and isinstance(state["step"], torch.Tensor | float | int)


def _restart_at_step_one(state: dict, old_step, betas) -> None:
    """Step 1, inherited moments bias-corrected then scaled by ``1 - beta`` (zero entries stay zero)."""
    step = float(old_step)
    if step < 1:
        return
    beta1, beta2 = betas
    state["exp_avg"].mul_((1 - beta1) / (1 - beta1**step))
    state["exp_avg_sq"].mul_((1 - beta2) / (1 - beta2**step))
    if "max_exp_avg_sq" in state:
        state["max_exp_avg_sq"].mul_((1 - beta2) / (1 - beta2**step))
    old = state["step"]
    state["step"] = torch.tensor(1.0, dtype=old.dtype, device=old.device) if isinstance(old, torch.Tensor) else 1


def _old_shape(blocks: list[SliceBlock]) -> tuple[int, ...]:
    return tuple(
        max(stop for _, stop in (block.old_index[axis] for block in blocks)) for axis in range(len(blocks[0].old_index))
    )
