"""Check a run's settings before anything runs: every key is one the run reads, and a resumed run keeps its record.

A typo would otherwise surface as a traceback deep inside a constructor (or, in a nested tower config, not at all),
and a resume with other settings would silently train a different run on top of the old checkpoints.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json

from ..continual import STRATEGIES
from ..growth.compute_optimal import check_pairs_per_parameter
from ..growth.policies import check_proxy_batch_size
from ..growth.space import GrowthSpace
from ..models.growclip import GrowCLIPConfig, GrowCLIPSharedConfig, GrowCLIPTextConfig, GrowCLIPVisionConfig
from ..models.tokenization import train_tokenizer
from ..training.config import TrainingConfig
from .manifest_plan import ManifestPlan
from .stream_plan import CHUNK_KEYS, DATA_KEYS, STREAM_KEYS

SECTIONS = ("model", "tokenizer", "training", "growth", "data", "continual", "evaluation")
GROWTH_KEYS = {
    "policy",
    "schedule",
    "init",
    "momentum",
    "budget_exponent",
    "max_search_fraction",
    "proxy_batch_size",
    "pairs_per_parameter",
    "min_proxy_steps",
    "max_proxy_steps",
    "proxy_compute",
    "space",
    "method",
    "keep_margin",
    "trigger",
    "plateau_tail",
    "plateau_min_drop",
    "slope_min_gain",
}
# Settings that may differ on --resume when the user names them (--allow-change): they change neither the data order,
# the optimisation nor the architecture of what is already trained.
RESUMABLE_CHANGES = (
    "data.max_stages",
    "training.log_every",
    "training.checkpoint_every",
    "training.keep_last_checkpoints",
    "training.tracker",
    "evaluation",
)
_NOT_COMPARED = ("training.output_dir",)  # the run folder itself: a moved folder is the same run


class SettingsError(ValueError):
    """A setting the run cannot use; the message is one line naming the key and the fix."""


def _parameters(function, skip: int = 0) -> set[str]:
    names = list(inspect.signature(function).parameters)[skip:]
    return {n for n in names if n not in ("self", "args", "kwargs")}


def _tower_keys(config_class) -> set[str]:
    return set(config_class().to_dict()) | _parameters(config_class.__init__)


MODEL_TOWERS = {
    "text_config": _tower_keys(GrowCLIPTextConfig),
    "vision_config": _tower_keys(GrowCLIPVisionConfig),
    "shared_config": _tower_keys(GrowCLIPSharedConfig),
}
MODEL_KEYS = _parameters(GrowCLIPConfig.__init__) | set(MODEL_TOWERS)


def _known(section: str, settings: dict) -> set[str]:
    if section == "model":
        return MODEL_KEYS | {"pretrained", "revision", "tokenizer"}
    if section == "tokenizer":
        return _parameters(train_tokenizer, skip=1) | {"sample_size"}
    if section == "training":
        return {f.name for f in dataclasses.fields(TrainingConfig)}
    if section == "growth":
        return GROWTH_KEYS
    if section == "data":
        manifest_options = _parameters(ManifestPlan.__init__) - {"manifest_path", "processor", "seed", "context_length"}
        return DATA_KEYS | manifest_options | {"manifest", "oracle_stage"}
    if section == "continual":
        strategy = STRATEGIES.get(settings.get("continual", {}).get("strategy", "seqf"))
        return {"strategy"} | (_parameters(strategy.__init__) if strategy is not None else set())
    return {"zeroshot"}


def _unknown(where: str, given, known: set[str]) -> None:
    """One line for the first key of ``given`` not in ``known``, with the nearest known key."""
    if not isinstance(given, dict):
        raise SettingsError(f"{where} must be a mapping of settings, got {type(given).__name__}.")
    for key in given:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
        if not where:
            hint = f"did you mean {close[0]}?" if close else f"use {', '.join(SECTIONS)}."
            raise SettingsError(f"unknown section {key}; {hint}")
        hint = f"did you mean {where}.{close[0]}?" if close else f"known: {', '.join(sorted(known))}."
        raise SettingsError(f"unknown setting {where}.{key}; {hint}")


def _check_model_shape(where: str, shape: dict) -> None:
    _unknown(where, shape, MODEL_KEYS)
    for tower, keys in MODEL_TOWERS.items():
        if tower in shape:
            _unknown(f"{where}.{tower}", shape[tower], keys)


def check_settings(settings: dict) -> None:
    """Raise ``SettingsError`` for the first key no part of the run reads, or a value a section refuses."""
    _unknown("", settings, set(SECTIONS))
    for section in SECTIONS:
        if section in settings:
            _unknown(section, settings[section] or {}, _known(section, settings))
    model = {k: v for k, v in (settings.get("model") or {}).items() if k in MODEL_TOWERS}
    _check_model_shape("model", model)
    growth = settings.get("growth") or {}
    _unknown("growth.space", growth.get("space", {}), {f.name for f in dataclasses.fields(GrowthSpace)})
    for index, target in enumerate(growth.get("schedule") or []):
        _check_model_shape(f"growth.schedule[{index}]", target)
    try:
        check_proxy_batch_size(growth.get("proxy_batch_size"))
        check_pairs_per_parameter(growth.get("pairs_per_parameter", 1.0))
    except ValueError as error:
        raise SettingsError(str(error)) from None
    data = settings.get("data") or {}
    for index, entry in enumerate(data.get("chunks") or []):
        if isinstance(entry, dict):
            _unknown(f"data.chunks[{index}]", entry, CHUNK_KEYS)
    if isinstance(data.get("stream"), dict):
        _unknown("data.stream", data["stream"], STREAM_KEYS)
    try:
        TrainingConfig.from_dict(settings.get("training") or {})
    except (TypeError, ValueError) as error:
        raise SettingsError(f"training: {error}") from None


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict) and value:
        out = {}
        for key, inner in value.items():
            out.update(_flat(inner, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def settings_changes(recorded: dict, current: dict) -> dict[str, tuple]:
    """``{dotted key: (recorded value, current value)}`` for every setting that differs (JSON-normalised)."""
    old, new = (_flat(json.loads(json.dumps(s, default=str))) for s in (recorded, current))
    return {
        key: (old.get(key), new.get(key))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key) and key not in _NOT_COMPARED
    }


def _resumable(key: str) -> bool:
    return any(key == safe or key.startswith(safe + ".") for safe in RESUMABLE_CHANGES)


def check_resume(recorded: dict, current: dict, allowed: tuple[str, ...] = ()) -> None:
    """Refuse a resume whose settings differ from the run's record, unless each change is named and resumable."""
    changes = settings_changes(recorded, current)
    refused = [key for key in changes if not (_resumable(key) and any(_covers(a, key) for a in allowed))]
    if not refused:
        return
    listed = ", ".join(f"{key} ({changes[key][0]!r} -> {changes[key][1]!r})" for key in refused)
    safe = [key for key in refused if _resumable(key)]
    hint = (
        f"pass --allow-change {' --allow-change '.join(safe)} to accept {'it' if len(safe) == 1 else 'them'}"
        if safe and len(safe) == len(refused)
        else "resume with the recorded settings or start a new --output-dir"
    )
    raise SettingsError(f"--resume with settings that differ from the run's record: {listed}; {hint}.")


def _covers(allowed: str, key: str) -> bool:
    return key == allowed or key.startswith(allowed + ".")
