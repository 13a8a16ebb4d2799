"""Evaluate one model, or every stage of a run, on a suite: per-task metrics, the zero-shot means per task kind
(object / attribute) with their chance levels, R matrices, continual summaries, spatial disorder between consecutive
stages and the growth timeline, as one JSON-serialisable dict whose ``headline`` is the last checkpoint's object
zero-shot mean and retrieval."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .continual import continual_summary, final_average, forgetting
from .disorder import spatial_disorder
from .embeddings import DEFAULT_BATCH_SIZE, embed_pixels, embed_texts
from .kinds import ATTRIBUTE, OBJECT, kind_summary, ordered_kinds
from .retrieval import retrieval_metrics
from .runs import discover_stages, load_stage, read_growth_log, samples_seen
from .suite import EvalSuite
from .zeroshot import class_embeddings, zeroshot_logits, zeroshot_metrics

DEFAULT_PROBE_SIZE = 256


@dataclass
class SplitEmbeddings:
    images: torch.Tensor
    captions: torch.Tensor
    caption_image_index: torch.Tensor


def embed_retrieval_splits(model, processor, suite: EvalSuite, batch_size: int) -> list[SplitEmbeddings]:
    """Every chunk test split's images and captions, embedded once for this model."""
    return [
        SplitEmbeddings(
            embed_pixels(model, split.images.pixel_values(processor.image_processor), batch_size),
            embed_texts(model, processor.tokenizer, split.captions, batch_size),
            split.caption_image_index,
        )
        for split in suite.retrieval
    ]


def union_retrieval(splits: list[SplitEmbeddings]) -> dict[str, float]:
    """P9D-style retrieval over the union of several test splits (caption indices shifted into the union)."""
    offsets = torch.tensor([0] + [len(split.images) for split in splits[:-1]]).cumsum(0)
    return retrieval_metrics(
        torch.cat([split.images for split in splits]),
        torch.cat([split.captions for split in splits]),
        torch.cat([split.caption_image_index + offset for split, offset in zip(splits, offsets, strict=True)]),
    )


def evaluate_zeroshot(model, processor, suite: EvalSuite, batch_size: int) -> dict[str, dict]:
    """Zero-shot metrics per task; class embeddings computed once per task, images once per task."""
    results = {}
    for task in suite.zeroshot:
        images = embed_pixels(model, task.images.pixel_values(processor.image_processor), batch_size)
        classes = class_embeddings(model, processor.tokenizer, task.classnames, task.templates, batch_size)
        results[task.name] = zeroshot_metrics(zeroshot_logits(images, classes), task.labels)
    return results


def probe_embeddings(splits: list[SplitEmbeddings], probe_size: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The fixed probe set: the first images of the first chunk's test split and each one's first caption."""
    if not splits or probe_size < 2:
        return None
    first = splits[0]
    count = min(probe_size, len(first.images))
    first_caption = [int((first.caption_image_index == image).nonzero()[0]) for image in range(count)]
    return first.images[:count], first.captions[first_caption]


def evaluate_stage(model, processor, suite: EvalSuite, num_seen: int | None, batch_size: int, probe_size: int):
    """Metrics of one checkpoint; ``num_seen`` = how many leading chunks it has learned (None: all)."""
    started = time.perf_counter()
    splits = embed_retrieval_splits(model, processor, suite, batch_size)
    result = {
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "retrieval": {
            split.name: retrieval_metrics(e.images, e.captions, e.caption_image_index)
            for split, e in zip(suite.retrieval, splits, strict=True)
        },
        "zeroshot": evaluate_zeroshot(model, processor, suite, batch_size),
    }
    result["zeroshot_by_kind"] = kind_summary(result["zeroshot"], {task.name: task.kind for task in suite.zeroshot})
    seen = len(splits) if num_seen is None else min(num_seen, len(splits))
    result["union_retrieval"] = union_retrieval(splits[:seen]) if seen else None
    result["num_seen_chunks"] = seen
    result["seconds"] = time.perf_counter() - started
    return result, probe_embeddings(splits, probe_size)


def _matrix(stages: list[dict], section: str, metric: str, names: list[str]) -> dict:
    return {
        "rows": [stage["name"] for stage in stages],
        "columns": names,
        "values": [[stage[section][name][metric] for name in names] for stage in stages],
    }


def evaluate_run(
    path: str | Path,
    suite: EvalSuite,
    batch_size: int = DEFAULT_BATCH_SIZE,
    probe_size: int = DEFAULT_PROBE_SIZE,
    device: str = "cpu",
) -> dict:
    """Evaluate a model folder or every stage of a run folder (stage i = the model after learning chunk i)."""
    started = time.perf_counter()
    stages = discover_stages(path)
    growth_log = read_growth_log(path)
    single_model = len(stages) == 1
    stage_results, disorder, previous_probe = [], [], None
    for position, stage in enumerate(stages):
        model, processor = load_stage(stage, device)
        num_seen = None if single_model else position + 1
        result, probe = evaluate_stage(model, processor, suite, num_seen, batch_size, probe_size)
        result.update(
            name=stage.name,
            index=stage.index,
            path=str(stage.path),
            samples_seen=samples_seen(stage, model.config, growth_log),
            growth_history=list(model.config.growth_history or []),
        )
        stage_results.append(result)
        if previous_probe is not None and probe is not None:
            disorder.append(
                {"from": stages[position - 1].name, "to": stage.name, **spatial_disorder(*previous_probe, *probe)}
            )
        previous_probe = probe
        del model
    return {
        "source": str(path),
        "manifest": str(suite.manifest_path),
        "single_model": single_model,
        "stages": stage_results,
        **summarise(stage_results, suite, single_model),
        "spatial_disorder": disorder,
        "growth_log": growth_log,
        "seconds": time.perf_counter() - started,
    }


def summarise(stage_results: list[dict], suite: EvalSuite, single_model: bool) -> dict:
    """R matrices (stage x task) for retrieval Rm and zero-shot top-1, and their continual summaries."""
    chunk_names = [split.name for split in suite.retrieval]
    task_names = [task.name for task in suite.zeroshot]
    matrices, continual = {}, {}
    if chunk_names:
        matrices["retrieval_Rm"] = _matrix(stage_results, "retrieval", "Rm", chunk_names)
        continual["retrieval_Rm"] = (
            {
                "final_average": final_average(matrices["retrieval_Rm"]["values"]),
                "forgetting": None,
                "backward_transfer": None,
            }
            if single_model
            else continual_summary(matrices["retrieval_Rm"]["values"])
        )
    kinds = {}
    if task_names:
        values = _matrix(stage_results, "zeroshot", "top1", task_names)
        matrices["zeroshot_top1"] = values
        continual["zeroshot_top1"] = _zeroshot_summary(values["values"])
        task_kinds = [task.kind for task in suite.zeroshot]
        for kind in ordered_kinds(task_kinds):
            columns = [j for j, task_kind in enumerate(task_kinds) if task_kind == kind]
            continual[f"zeroshot_top1_{kind}"] = _zeroshot_summary(
                [[row[j] for j in columns] for row in values["values"]]
            )
            kinds[kind] = {
                "tasks": [task_names[j] for j in columns],
                "chance_top1": sum(100.0 / len(suite.zeroshot[j].classnames) for j in columns) / len(columns),
            }
    return {
        "matrices": matrices,
        "continual": continual,
        "zeroshot_kinds": kinds,
        "headline": headline(stage_results[-1]) if stage_results else None,
    }


def _zeroshot_summary(values: list[list[float]]) -> dict:
    """Zero-shot tasks are not learned one per stage: final average and forgetting over all of them, no BWT."""
    return {
        "final_average": final_average(values),
        "forgetting": forgetting(values, num_old=len(values[0])),
        "backward_transfer": None,
    }


def headline(stage: dict) -> dict:
    """The figures a result is quoted by: object and attribute zero-shot means with their chance levels, and
    retrieval R@1 (mean of both directions) and Rm over the union of the test splits the checkpoint has seen (the
    mean over the splits when there is no union)."""
    by_kind = stage.get("zeroshot_by_kind", {})
    retrieval = stage.get("union_retrieval") or None
    if retrieval is None and stage.get("retrieval"):
        splits = list(stage["retrieval"].values())
        retrieval = {key: sum(split[key] for split in splits) / len(splits) for key in ("i2t_R@1", "t2i_R@1", "Rm")}
    figures = {"stage": stage.get("name")}
    for kind in (OBJECT, ATTRIBUTE):
        summary = by_kind.get(kind, {})
        figures[f"{kind}_zeroshot_top1"] = summary.get("mean_top1")
        figures[f"{kind}_zeroshot_chance"] = summary.get("chance_top1")
    figures["retrieval_R@1"] = (retrieval["i2t_R@1"] + retrieval["t2i_R@1"]) / 2 if retrieval else None
    figures["retrieval_Rm"] = retrieval["Rm"] if retrieval else None
    return figures
