"""The per-stage model card: metadata built and checked with ``ModelCardData``, text rendered from a jinja template."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from .resources import MODEL_CARD_TEMPLATE, model_card_dir

LICENSE = "apache-2.0"


def stage_tag(stage: int) -> str:
    """The immutable tag of a stage; the branch ``stage-{k}`` moves, the tag never does."""
    return f"stage-{stage}-v1"


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


def read_growth_log(run_dir: Path | None, up_to_stage: int) -> list[dict]:
    """Growth decisions taken up to (and including) this stage; later decisions must not leak into it."""
    if run_dir is None or not (run_dir / "growth_log.jsonl").exists():
        return []
    rows = [json.loads(line) for line in (run_dir / "growth_log.jsonl").read_text().splitlines() if line.strip()]
    return [row for row in rows if int(row.get("stage", 0)) <= up_to_stage]


def _stage_eval(run_dir: Path | None, stage: int) -> dict | None:
    results = _read_json(run_dir / "eval_results.json") if run_dir else None
    for entry in (results or {}).get("stages", []):
        if int(entry.get("index", -1)) == stage:
            return entry
    return None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _summary(entry: dict | None) -> tuple[float | None, float | None]:
    if not entry:
        return None, None
    top1 = _mean([v["top1"] for v in entry.get("zeroshot", {}).values() if "top1" in v])
    rm = _mean([v["Rm"] for v in entry.get("retrieval", {}).values() if "Rm" in v])
    return top1, rm


def _what_grew(decision: dict | None) -> str:
    if decision is None:
        return "initial model"
    target = decision.get("target") or {}
    if not target or decision.get("choice") == "keep":
        return f"nothing ({decision.get('choice', 'keep')})"
    return f"{decision.get('choice', 'grow')}: " + json.dumps(target, sort_keys=True).replace("|", "/")


def growth_history(run_dir: Path | None, stage: int, stage_info: dict) -> list[dict]:
    decisions = {int(row.get("stage", 0)): row for row in read_growth_log(run_dir, stage)}
    rows = []
    for k in range(stage + 1):
        info = _read_json(run_dir / f"stage-{k}" / "stage_info.json") if run_dir else None
        info = stage_info if k == stage else (info or {})
        top1, rm = _summary(_stage_eval(run_dir, k))
        rows.append(
            {
                "stage": k,
                "grew": _what_grew(decisions.get(k)),
                "parameters": info.get("parameters"),
                "samples_seen": info.get("samples_seen"),
                "top1": top1,
                "rm": rm,
            }
        )
    return rows


def _eval_results(entry: dict | None, dataset_id: str) -> list[EvalResult]:
    results = []
    for task, metrics in sorted((entry or {}).get("zeroshot", {}).items()):
        results.append(
            EvalResult(
                task_type="zero-shot-image-classification",
                dataset_type=dataset_id,
                dataset_name=f"{task} (zero-shot)",
                dataset_config=task,
                metric_type="accuracy",
                metric_name="top-1 accuracy (%)",
                metric_value=round(float(metrics["top1"]), 4),
            )
        )
    for chunk, metrics in sorted((entry or {}).get("retrieval", {}).items()):
        results.append(
            EvalResult(
                task_type="image-to-text",
                task_name="image-text retrieval",
                dataset_type=dataset_id,
                dataset_name=f"{chunk} (retrieval)",
                dataset_config=chunk,
                metric_type="recall",
                metric_name="Rm, mean of R@1/5/10 both ways (%)",
                metric_value=round(float(metrics["Rm"]), 4),
            )
        )
    return results


def card_data(repo_id: str, stage: int, entry: dict | None, dataset_id: str) -> ModelCardData:
    eval_results = _eval_results(entry, dataset_id)
    return ModelCardData(
        library_name="transformers",
        pipeline_tag="zero-shot-image-classification",
        license=LICENSE,
        tags=["clip", "growclip", "continual-learning", "model-growth", f"stage-{stage}", "safetensors"],
        datasets=[dataset_id],
        base_model=None,
        model_name=f"{repo_id} stage {stage}",
        eval_results=eval_results or None,
    )


def render_stage_card(
    stage_dir: Path,
    repo_id: str,
    stage: int,
    run_dir: Path | None = None,
    has_demo: bool = False,
    dataset_id: str | None = None,
) -> str:
    """The README.md of one stage; parsed back with ``ModelCard`` so bad metadata fails here, not on the Hub."""
    stage_dir, run_dir = Path(stage_dir), Path(run_dir) if run_dir else None
    info = _read_json(stage_dir / "stage_info.json") or {}
    manifest = _read_json(run_dir / "data" / "manifest.json") if run_dir else None
    dataset_id = dataset_id or f"growclip-hf/embedded-stream-{(manifest or {}).get('scale', 'local')}"
    entry = _stage_eval(run_dir, stage)
    data = card_data(repo_id, stage, entry, dataset_id)
    template_dir = model_card_dir()
    if not (template_dir / MODEL_CARD_TEMPLATE).is_file():
        raise FileNotFoundError(
            f"Model card template {template_dir / MODEL_CARD_TEMPLATE} is missing; reinstall growclip-hf."
        )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir), undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    )
    text = env.get_template(MODEL_CARD_TEMPLATE).render(
        card_data=data.to_yaml(),
        repo_id=repo_id,
        stage=stage,
        tag=stage_tag(stage),
        architecture=info.get("architecture", "unknown"),
        parameters=int(info.get("parameters", 0)),
        samples_seen=int(info.get("samples_seen", 0)),
        train_flops=float(info.get("train_flops", 0.0)),
        history=growth_history(run_dir, stage, info),
        zeroshot=sorted((k, v["top1"]) for k, v in (entry or {}).get("zeroshot", {}).items()),
        retrieval=sorted(
            (k, v["i2t_R@1"], v["t2i_R@1"], v["Rm"]) for k, v in (entry or {}).get("retrieval", {}).items()
        ),
        has_demo=has_demo,
    )
    parsed = ModelCard(text)
    if parsed.data.pipeline_tag != "zero-shot-image-classification" or parsed.data.library_name != "transformers":
        raise ValueError("Rendered model card lost its metadata; check the template's front matter.")
    return text
