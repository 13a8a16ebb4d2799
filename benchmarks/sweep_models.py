"""What a sweep needs to know about a run's model: the record of a finished run (scores, compute, growth), and the
growable sizes of an architecture with the overrides and per-pair FLOPs that rebuild it for a fixed-size run."""

from __future__ import annotations

import json
from pathlib import Path

from previous_default import overrides

ARCHITECTURE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "head_dim")


def summarise(folder: Path, final_stage: Path, eval_file: Path) -> dict:
    """One run's record: its final model's scores, its compute (search included) and the growth it chose."""
    from growclip_hf.evaluation.runs import read_growth_log

    stages = [json.loads(line) for line in (folder / "stages.jsonl").read_text().splitlines() if line.strip()]
    final = json.loads(eval_file.read_text())["stages"][-1]
    union = final["union_retrieval"]
    decisions = read_growth_log(folder)
    last = stages[-1]
    return {
        "object_zeroshot": final["zeroshot_by_kind"]["object"]["mean_top1"],
        "object_chance": final["zeroshot_by_kind"]["object"]["chance_top1"],
        "attribute_zeroshot": final["zeroshot_by_kind"]["attribute"]["mean_top1"],
        "retrieval_R@1": (union["i2t_R@1"] + union["t2i_R@1"]) / 2,
        "retrieval_Rm": union["Rm"],
        "i2t_R@1": union["i2t_R@1"],
        "train_flops": last["train_flops"],
        "search_flops": last["search_flops"],
        "compute_flops": last["train_flops"] + last["search_flops"],
        "max_search_fraction": max((d.get("search", {}).get("search_fraction", 0.0) for d in decisions), default=0.0),
        "pairs_trained": last["samples_seen"],
        "parameters": final["parameters"],
        "architecture": last["architecture"],
        "growths": [describe_growth(g) for g in decisions if g.get("target")],
        "config": json.loads((final_stage / "config.json").read_text()),
    }


def describe_growth(record: dict) -> str:
    changes = []
    for section, values in record["target"].items():
        if isinstance(values, dict):
            changes += [f"{section.split('_')[0]}.{key}={value}" for key, value in values.items()]
        else:
            changes.append(f"{section}={values}")
    return f"stage {record['stage']}: " + ", ".join(changes)


def architecture_of(config: dict) -> dict:
    """The growable sizes of a saved config, in the nested shape of the model settings."""
    architecture = {"projection_dim": config["projection_dim"]}
    for tower in ("text_config", "vision_config", "shared_config"):
        architecture[tower] = {k: config[tower][k] for k in ARCHITECTURE_KEYS if config[tower].get(k) is not None}
    return architecture


def architecture_overrides(architecture: dict) -> list[str]:
    items = [f"model.projection_dim={architecture['projection_dim']}"]
    for tower in ("text_config", "vision_config", "shared_config"):
        items += [f"model.{tower}.{key}={value}" for key, value in architecture[tower].items()]
    return items


def training_flops_per_pair(architecture: dict, scale: str = "default") -> float:
    """Per-pair training FLOPs of the model a run of ``scale`` with ``architecture_overrides(architecture)`` builds."""
    from growclip_hf import GrowCLIPConfig
    from growclip_hf.growth.flops import training_flops_per_pair as flops
    from growclip_hf.stages.launch import apply_overrides
    from growclip_hf.stages.presets import preset

    model = apply_overrides(preset(scale), [*overrides(scale), *architecture_overrides(architecture)])["model"]
    return flops(GrowCLIPConfig(**model))


def starting_architecture(scale: str = "default", start: list[str] | None = None) -> dict:
    """The model every run of ``scale`` starts from, after the ``start`` overrides."""
    from growclip_hf.stages.launch import apply_overrides
    from growclip_hf.stages.presets import preset

    return architecture_of(apply_overrides(preset(scale), [*overrides(scale), *(start or [])])["model"])
