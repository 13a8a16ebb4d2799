"""``GrowCLIPModel.grow``: build the target architecture and initialise it from the current model.

Three initialisations (see docs/growth.md):
- ``preserve``: function-preserving. Old slices are copied; every weight that would read a new unit into the old
  computation starts at zero (new layers' output projections, new heads' and new MLP units' outgoing weights, new
  projection rows); widened residual streams ramp in through mask-aware LayerNorms (``growth_ramp``).
- ``pim``: parameter inheriting with momentum, ``m * inherited + (1 - m) * fresh`` on inherited slices, fresh
  elsewhere (our reading of GrowCLIP; deliberately not function preserving).
- ``random``: a fresh model of the target architecture.
"""

from __future__ import annotations

import copy
import math

import torch

from .growth_mapping_growclip import growth_mapping, sub_config_for
from .growth_targets_growclip import head_dim_of, validated_growth
from .modeling_growclip_layers import GrowCLIPLayerNorm

_ENCODERS = (
    ("text_model.encoder", "text_config"),
    ("vision_model.encoder", "vision_config"),
    ("shared_encoder.encoder", "shared_config"),
)


def fresh_model(model_class, config, seed: int):
    """A newly initialised model of ``config`` whose weights depend only on ``seed`` (global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return model_class(copy.deepcopy(config))


def grow_model(model, target: dict, init: str = "preserve", momentum: float = 0.5, seed: int | None = None):
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be a number in [0, 1], got {momentum!r}.")
    new_config, changes = validated_growth(model.config, target, init)
    if seed is None:
        seed = int(torch.randint(0, 2**31 - 1, ()).item())
    new_config.growth_ramp = None
    reference = next(model.parameters())
    grown = fresh_model(type(model), new_config, seed).to(device=reference.device, dtype=reference.dtype)
    mapping = growth_mapping(model, grown)
    if init != "random":
        _inherit(model, grown, mapping, momentum=1.0 if init == "preserve" else float(momentum))
    if init == "preserve":
        _zero_new_readers(model.config, grown)
        grown.config.growth_ramp = _ramp_after_growth(model, grown)
        grown._apply_growth_ramp()
    grown.config.growth_history.append(
        _history_entry(model, grown, changes, init, momentum if init == "pim" else None, seed)
    )
    grown.growth_mapping = mapping
    grown.train(model.training)
    return grown


@torch.no_grad()
def _inherit(old_model, new_model, mapping, momentum: float) -> None:
    """new[block] = momentum * old[block] + (1 - momentum) * fresh[block] for every mapped block."""
    old_parameters = dict(old_model.named_parameters())
    new_parameters = dict(new_model.named_parameters())
    for block in mapping:
        target = new_parameters[block.new_name]
        source = old_parameters[block.old_name].detach()[block.old_slices()].to(target.dtype)
        region = target[block.new_slices()]
        if momentum == 1.0:
            region.copy_(source)
        else:
            region.copy_(momentum * source.to(region.device) + (1.0 - momentum) * region)


@torch.no_grad()
def _zero_new_readers(old_config, new_model) -> None:
    """Make every path from a new unit into the old computation start at zero (function preservation)."""
    parameters = dict(new_model.named_parameters())
    for prefix, config_name in _ENCODERS:
        old_sub, new_sub = getattr(old_config, config_name), getattr(new_model.config, config_name)
        old_layers = (
            old_sub.num_hidden_layers if prefix != "shared_encoder.encoder" or old_config.has_shared_encoder else 0
        )
        for index in range(new_sub.num_hidden_layers if f"{prefix}.layers.0.mlp.fc1.weight" in parameters else 0):
            layer = f"{prefix}.layers.{index}"
            if index >= old_layers:
                for name in ("self_attn.out_proj.weight", "self_attn.out_proj.bias", "mlp.fc2.weight", "mlp.fc2.bias"):
                    parameters[f"{layer}.{name}"].zero_()
                continue
            parameters[f"{layer}.mlp.fc2.weight"][:, old_sub.intermediate_size :].zero_()
            _preserve_attention(parameters, f"{layer}.self_attn", old_sub, new_sub)
    _preserve_shared_inputs(old_config, new_model.config, parameters)
    for name in ("text_projection.weight", "visual_projection.weight"):
        parameters[name][old_config.projection_dim :].zero_()


def _preserve_attention(parameters: dict, prefix: str, old_sub, new_sub) -> None:
    old_heads, old_dim = old_sub.num_attention_heads, head_dim_of(old_sub.to_dict())
    new_dim = head_dim_of(new_sub.to_dict())
    out_proj = parameters[f"{prefix}.out_proj.weight"]
    kept_columns = torch.zeros(out_proj.shape[1], dtype=torch.bool, device=out_proj.device)
    for head in range(old_heads):
        kept_columns[head * new_dim : head * new_dim + old_dim] = True
    out_proj[:, ~kept_columns] = 0.0
    if new_dim == old_dim:
        return
    # Wider heads: the softmax scale drops from old_dim**-0.5 to new_dim**-0.5, so scale the old query rows up by
    # sqrt(new_dim / old_dim) and zero the new query rows; scores q.k stay exactly as before.
    factor = math.sqrt(new_dim / old_dim)
    for name in ("q_proj.weight", "q_proj.bias"):
        query = parameters[f"{prefix}.{name}"]
        for head in range(old_heads):
            start = head * new_dim
            query[start : start + old_dim].mul_(factor)
            query[start + old_dim : start + new_dim].zero_()


def _preserve_shared_inputs(old_config, new_config, parameters: dict) -> None:
    if not new_config.has_shared_encoder:
        return
    for modality, tower in (("text", "text_config"), ("vision", "vision_config")):
        weight = parameters[f"shared_encoder.{modality}_input_projection.weight"]
        old_width = getattr(old_config, tower).hidden_size
        if old_config.has_shared_encoder:
            weight[:, old_width:].zero_()  # new tower units are not read yet
        else:
            # The first shared layers: the input projection passes the old tower output through (identity + zero
            # padding) and the new layers are identity blocks, so the final LayerNorm sees what it saw before.
            weight.zero_()
            weight[:old_width, :old_width].copy_(torch.eye(old_width, dtype=weight.dtype, device=weight.device))
            parameters[f"shared_encoder.{modality}_input_projection.bias"].zero_()


def _layer_norms(model) -> dict[str, GrowCLIPLayerNorm]:
    return {name: module for name, module in model.named_modules() if isinstance(module, GrowCLIPLayerNorm)}


def _ramp_after_growth(old_model, new_model) -> dict | None:
    """Which LayerNorms must mask grown units, and from which width; carries an unfinished ramp over."""
    old_ramp = old_model.config.growth_ramp or {}
    old_widths = dict(old_ramp.get("active_widths", {}))
    old_norms = _layer_norms(old_model)
    active = {}
    for name, norm in _layer_norms(new_model).items():
        width = norm.weight.shape[0]
        if name in old_norms:
            previous = old_widths.get(name, old_norms[name].weight.shape[0])
        else:
            previous = _stream_width_for_new_layer(name, old_model, old_widths)
        if previous is not None and previous < width:
            active[name] = previous
    if not active:
        return None
    return {"progress": float(old_ramp.get("progress", 0.0)), "active_widths": active}


def _stream_width_for_new_layer(name: str, old_model, old_widths: dict) -> int | None:
    """Active width of the residual stream a newly added layer reads (None for brand-new shared encoders)."""
    encoder = name.split(".layers.")[0]
    for other, width in old_widths.items():
        if other.startswith(f"{encoder}.layers."):
            return width
    if encoder == "shared_encoder.encoder":
        return old_model.config.shared_config.hidden_size if old_model.config.has_shared_encoder else None
    sub_config = sub_config_for(encoder + ".", old_model.config)
    return sub_config.hidden_size


def architecture_summary(config) -> dict:
    summary = {}
    for name in ("text_config", "vision_config", "shared_config"):
        sub = getattr(config, name)
        summary[name] = {
            "num_hidden_layers": sub.num_hidden_layers,
            "hidden_size": sub.hidden_size,
            "num_attention_heads": sub.num_attention_heads,
            "head_dim": head_dim_of(sub.to_dict()),
            "intermediate_size": sub.intermediate_size,
        }
    summary["projection_dim"] = config.projection_dim
    return summary


def _history_entry(old_model, new_model, changes, init, momentum, seed) -> dict:
    return {
        "step": len(old_model.config.growth_history) + 1,
        "changes": changes,
        "init": init,
        "momentum": momentum,
        "seed": seed,
        "from": architecture_summary(old_model.config),
        "to": architecture_summary(new_model.config),
        "params_before": sum(p.numel() for p in old_model.parameters()),
        "params_after": sum(p.numel() for p in new_model.parameters()),
    }
