"""Turn a growth target (a partial nested config) into the grown config, refusing anything that cannot be built."""

from __future__ import annotations

import copy

from .configuration_growclip import SHARED_SIZE_KEYS, GrowCLIPConfig, fit_shared_sizes

GROWABLE_SUB_CONFIGS = ("text_config", "vision_config", "shared_config")
GROWABLE_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "head_dim")
GROWABLE_TOP_KEYS = ("projection_dim",)
INIT_MODES = ("preserve", "pim", "random")


def head_dim_of(sub_config: dict) -> int:
    head_dim = sub_config.get("head_dim")
    return head_dim if head_dim is not None else sub_config["hidden_size"] // sub_config["num_attention_heads"]


def _check_int(key: str, value, current: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Growth target {key} must be an integer, got {value!r}.")
    if value < current:
        raise ValueError(f"Growth target {key}={value} is smaller than the current {current}; growth never shrinks.")


def _grow_sub_config(name: str, old: dict, target: dict, towers: tuple[dict, dict]) -> dict:
    if not isinstance(target, dict):
        raise ValueError(f"Growth target {name} must be a dict of sizes, got {type(target).__name__}.")
    new = dict(old)
    # A shared encoder with no layers has no weights yet: its sizes are free choices, not current sizes, and those
    # the target leaves out fit the towers as they are after this growth (see fit_shared_sizes).
    dormant = name == "shared_config" and old["num_hidden_layers"] == 0
    for key, value in target.items():
        if key not in GROWABLE_KEYS:
            raise ValueError(
                f"Growth target {name}.{key} is not a growable dimension; growable: {', '.join(GROWABLE_KEYS)}."
            )
        current = head_dim_of(old) if key == "head_dim" else old[key]
        _check_int(f"{name}.{key}", value, 0 if dormant and key != "num_hidden_layers" else current)
        new[key] = value
    if dormant:
        new.update(fit_shared_sizes({key: target.get(key) for key in SHARED_SIZE_KEYS}, *towers))
    else:
        new["head_dim"] = _grown_head_dim(name, old, new, target)
    inner = new["num_attention_heads"] * (new["head_dim"] or new["hidden_size"] // new["num_attention_heads"])
    if inner > new["hidden_size"]:
        raise ValueError(
            f"Growth target {name}.num_attention_heads={new['num_attention_heads']} does not fit: "
            f"{new['num_attention_heads']} heads of width {inner // new['num_attention_heads']} need "
            f"{name}.hidden_size >= {inner}, but it is {new['hidden_size']}; grow hidden_size too."
        )
    return new


def _grown_head_dim(name: str, old: dict, new: dict, target: dict) -> int | None:
    """Head width after growth: explicit if asked; kept when heads are added; widened with hidden_size if it divides."""
    old_head_dim = head_dim_of(old)
    if "head_dim" in target:
        return target["head_dim"]
    if new["num_attention_heads"] != old["num_attention_heads"] or old.get("head_dim") is not None:
        return None if new["hidden_size"] == new["num_attention_heads"] * old_head_dim else old_head_dim
    if new["hidden_size"] % new["num_attention_heads"] == 0:
        return None
    return old_head_dim


def grown_config(config: GrowCLIPConfig, target: dict) -> tuple[GrowCLIPConfig, list[str]]:
    """The target architecture's config and a human-readable list of what changed (``"text_config.x: a -> b"``)."""
    if not isinstance(target, dict) or not target:
        raise ValueError("The growth target must be a non-empty dict in the nested shape of GrowCLIPConfig.")
    old = config.to_dict()
    new = copy.deepcopy(old)
    # the towers first: a shared encoder added in the same step fits the grown towers
    for key, value in sorted(target.items(), key=lambda item: item[0] == "shared_config"):
        if key in GROWABLE_SUB_CONFIGS:
            new[key] = _grow_sub_config(key, old[key], value, (new["text_config"], new["vision_config"]))
        elif key in GROWABLE_TOP_KEYS:
            _check_int(key, value, old[key])
            new[key] = value
        else:
            allowed = ", ".join((*GROWABLE_SUB_CONFIGS, *GROWABLE_TOP_KEYS))
            raise ValueError(f"Growth target key {key!r} is unknown; use {allowed}.")
    changes = _describe_changes(old, new)
    for transient in ("auto_map", "architectures", "transformers_version", "growth_ramp"):
        new.pop(transient, None)
    try:
        grown = type(config).from_dict(new)
    except ValueError as error:
        raise ValueError(f"The growth target cannot be built: {error}") from error
    grown.growth_history = copy.deepcopy(config.growth_history)
    return grown, changes


def _describe_changes(old: dict, new: dict) -> list[str]:
    changes = []
    for name in GROWABLE_SUB_CONFIGS:
        for key in GROWABLE_KEYS:
            before = head_dim_of(old[name]) if key == "head_dim" else old[name][key]
            after = head_dim_of(new[name]) if key == "head_dim" else new[name][key]
            if before != after:
                changes.append(f"{name}.{key}: {before} -> {after}")
    for key in GROWABLE_TOP_KEYS:
        if old[key] != new[key]:
            changes.append(f"{key}: {old[key]} -> {new[key]}")
    return changes


def validated_growth(config: GrowCLIPConfig, target: dict, init: str = "preserve") -> tuple[GrowCLIPConfig, list[str]]:
    """``grown_config`` plus the initialisation's own conditions: every check that needs no weights, so schedules,
    search candidates and ``grow()`` can all be refused before any training or building starts."""
    if init not in INIT_MODES:
        raise ValueError(f"init must be one of {INIT_MODES}, got {init!r}.")
    new_config, changes = grown_config(config, target)
    if init == "preserve":
        check_preservable(config, new_config)
    return new_config, changes


def check_preservable(old_config, new_config) -> None:
    ramp = old_config.growth_ramp
    widened = any(
        getattr(new_config, name).hidden_size > getattr(old_config, name).hidden_size
        for name in ("text_config", "vision_config", "shared_config")
    ) or (new_config.has_shared_encoder and not old_config.has_shared_encoder)
    if ramp is not None and widened:
        raise ValueError(
            "A width-growth ramp is still running (config.growth_ramp); call model.finish_growth_ramp() (or let the "
            "trainer finish it) before growing hidden_size or adding the shared encoder with init='preserve'."
        )
    if new_config.has_shared_encoder and not old_config.has_shared_encoder:
        needed = max(old_config.text_config.hidden_size, old_config.vision_config.hidden_size)
        if new_config.shared_config.hidden_size < needed:
            raise ValueError(
                f"shared_config.hidden_size={new_config.shared_config.hidden_size} is narrower than the towers "
                f"({needed}); init='preserve' needs shared_config.hidden_size >= {needed} to pass their output "
                "through unchanged (leave hidden_size out to fit the towers)."
            )
