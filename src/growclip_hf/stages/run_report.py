"""The main job's ``report.md``: the stage table (architecture, size, data, accuracy) and the evaluation report."""

from __future__ import annotations

import json
from pathlib import Path


def _mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def _fmt(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def stage_rows(results: dict, stage_records: list[dict]) -> list[dict]:
    """One row per stage from the evaluation results and the run's own stage records."""
    by_stage = {record["stage"]: record for record in stage_records}
    rows = []
    for position, stage in enumerate(results["stages"]):
        record = by_stage.get(stage["index"], {})
        union = stage.get("union_retrieval") or {}
        rows.append(
            {
                "stage": stage["index"],
                "architecture": record.get("architecture", ""),
                "parameters": stage["parameters"],
                "samples_seen": record.get("samples_seen", stage.get("samples_seen")),
                "zeroshot_top1": _mean(task["top1"] for task in stage["zeroshot"].values()),
                "retrieval_R@1": _mean([union.get("i2t_R@1"), union.get("t2i_R@1")]),
                "position": position,
            }
        )
    return rows


def chance_levels(suite) -> dict:
    """Mean zero-shot top-1 of guessing, and R@1 of guessing among one chunk's test pairs."""
    zeroshot = _mean(100.0 / len(task.classnames) for task in suite.zeroshot)
    retrieval = _mean(100.0 / max(len(split.captions), 1) for split in suite.retrieval)
    return {"zeroshot_top1": zeroshot, "retrieval_R@1": retrieval}


def stage_table(rows: list[dict], chance: dict) -> str:
    lines = [
        "| stage | architecture | parameters | samples seen | mean zero-shot top-1 (%) | retrieval R@1 (%) |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['stage']} | {row['architecture']} | {row['parameters']:,} | {row['samples_seen'] or 0:,} "
            f"| {_fmt(row['zeroshot_top1'])} | {_fmt(row['retrieval_R@1'])} |"
        )
    lines.append(f"| chance | | | | {_fmt(chance['zeroshot_top1'])} | {_fmt(chance['retrieval_R@1'], 2)} |")
    return "\n".join(lines)


def write_run_report(run_dir: str | Path, manifest: str | Path, batch_size: int = 256) -> tuple[Path, str]:
    """Evaluate every stage once, write the evaluation report and ``report.md``; return its path and the table."""
    from ..evaluation.evaluator import evaluate_run
    from ..evaluation.report import write_report
    from ..evaluation.suite import load_suite

    run_dir = Path(run_dir)
    suite = load_suite(manifest)
    results = evaluate_run(run_dir, suite, batch_size=batch_size)
    paths = write_report(results, run_dir)
    stages_file = run_dir / "stages.jsonl"
    records = (
        [json.loads(line) for line in stages_file.read_text().splitlines() if line.strip()]
        if stages_file.is_file()
        else []
    )
    table = stage_table(stage_rows(results, records), chance_levels(suite))
    summary = paths["markdown"].read_text()
    growth = (
        [json.loads(line) for line in (run_dir / "growth_log.jsonl").read_text().splitlines() if line.strip()]
        if (run_dir / "growth_log.jsonl").is_file()
        else []
    )
    decisions = "\n".join(
        f"- before stage {g['stage']}: {g.get('choice') or ('grow' if g.get('target') else 'keep')}"
        f" ({g['policy']}; search {100 * g.get('search', {}).get('search_fraction', 0.0):.1f}% of the stage's compute)"
        for g in growth
    )
    text = "\n\n".join(
        [
            "# growclip-hf run report",
            "## Stages",
            table,
            "## Growth decisions",
            decisions or "No growth decisions (a single stage).",
            "## Evaluation",
            summary.split("\n", 1)[1] if summary.startswith("#") else summary,
        ]
    )
    report = run_dir / "report.md"
    report.write_text(text + "\n")
    return report, table
