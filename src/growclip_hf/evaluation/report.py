"""Write an evaluation's JSON, markdown summary and PNG plots into one folder."""

from __future__ import annotations

import json
from pathlib import Path

from .plots import plot_growth_timeline, plot_matrix_heatmap, plot_task_curves

MATRIX_TITLES = {
    "retrieval_Rm": "Retrieval Rm (%)",
    "zeroshot_top1": "Zero-shot top-1, all tasks (%)",
    "zeroshot_top1_object": "Zero-shot top-1, object tasks (%)",
    "zeroshot_top1_attribute": "Zero-shot top-1, attribute tasks (%)",
}


def write_plots(results: dict, output_dir: Path) -> list[Path]:
    plots = []
    for key, matrix in results["matrices"].items():
        title = MATRIX_TITLES.get(key, key)
        plots.append(plot_matrix_heatmap(matrix, title, output_dir / f"{key}_matrix.png"))
        plots.append(plot_task_curves(matrix, title, output_dir / f"{key}_curves.png"))
    plots.append(plot_growth_timeline(results["stages"], output_dir / "growth_timeline.png", results.get("growth_log")))
    return plots


def _number(value, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def headline_line(results: dict) -> str | None:
    """One sentence with the figures a result is quoted by (the last checkpoint's object mean first)."""
    figures = results.get("headline")
    if not figures:
        return None
    parts = []
    for kind in ("object", "attribute"):
        if figures.get(f"{kind}_zeroshot_top1") is not None:
            parts.append(
                f"{kind} zero-shot top-1 **{figures[f'{kind}_zeroshot_top1']:.1f}%** "
                f"(chance {figures[f'{kind}_zeroshot_chance']:.1f}%)"
            )
    if figures.get("retrieval_R@1") is not None:
        parts.append(f"retrieval R@1 **{figures['retrieval_R@1']:.1f}%** (Rm {figures['retrieval_Rm']:.1f})")
    return f"Headline ({figures['stage']}): " + ", ".join(parts) + "." if parts else None


def markdown_summary(results: dict, plots: list[Path]) -> str:
    """A human summary: the headline, one row per stage with the zero-shot mean per task kind beside its chance level,
    the continual summaries, spatial disorder, per-task tables, plots."""
    lines = ["# Evaluation", "", f"Source: `{results['source']}`; suite: `{results['manifest']}`.", ""]
    headline = headline_line(results)
    if headline:
        lines += [headline, ""]
    kinds = list(results.get("zeroshot_kinds", {}))
    kind_columns = "".join(f" {kind} zero-shot top-1 (mean) |" for kind in kinds)
    lines += [
        f"| stage | parameters | samples seen |{kind_columns} retrieval R@1 (mean i2t/t2i) | Rm (mean) |",
        "| --- | ---: | ---: |" + " ---: |" * (len(kinds) + 2),
    ]
    for stage in results["stages"]:
        retrieval = list(stage["retrieval"].values())
        r_at_1 = _mean([(split["i2t_R@1"] + split["t2i_R@1"]) / 2 for split in retrieval])
        by_kind = stage.get("zeroshot_by_kind", {})
        means = "".join(f" {_number(by_kind.get(kind, {}).get('mean_top1'))} |" for kind in kinds)
        seen = stage["samples_seen"]
        lines.append(
            f"| {stage['name']} | {stage['parameters']:,} | {'n/a' if seen is None else f'{seen:,}'} |{means} "
            f"{_number(r_at_1)} | {_number(_mean([split['Rm'] for split in retrieval]))} |"
        )
    if kinds:
        chances = "".join(f" {_number(results['zeroshot_kinds'][kind]['chance_top1'])} |" for kind in kinds)
        lines.append(f"| chance | | |{chances} | |")
        lines += [""] + [
            f"- {kind} tasks: {', '.join(f'`{name}`' for name in results['zeroshot_kinds'][kind]['tasks'])}"
            for kind in kinds
        ]
    lines += ["", "## Continual summaries (percent points)", ""]
    lines += ["| matrix | final average | forgetting | backward transfer |", "| --- | ---: | ---: | ---: |"]
    for key, summary in results["continual"].items():
        lines.append(
            f"| {MATRIX_TITLES.get(key, key)} | {_number(summary['final_average'])} | "
            f"{_number(summary['forgetting'])} | {_number(summary['backward_transfer'])} |"
        )
    union_stages = [stage for stage in results["stages"] if stage["union_retrieval"]]
    if union_stages:
        lines += ["", "## Retrieval over the union of the test splits seen so far", ""]
        lines += ["| stage | chunks | i2t R@1 | t2i R@1 | Rm |", "| --- | ---: | ---: | ---: | ---: |"]
        for stage in union_stages:
            metrics = stage["union_retrieval"]
            lines.append(
                f"| {stage['name']} | {stage['num_seen_chunks']} | {_number(metrics['i2t_R@1'])} | "
                f"{_number(metrics['t2i_R@1'])} | {_number(metrics['Rm'])} |"
            )
    if results["spatial_disorder"]:
        lines += ["", "## Spatial disorder on the probe set (degrees)", ""]
        lines += ["| from → to | image rotation | text rotation | image topology | text topology | inter-modal |"]
        lines += ["| --- | ---: | ---: | ---: | ---: | ---: |"]
        for row in results["spatial_disorder"]:
            lines.append(
                f"| {row['from']} → {row['to']} | {row['image_rotation_deg']:.2f} | {row['text_rotation_deg']:.2f} | "
                f"{row['image_topology_change_deg']:.2f} | {row['text_topology_change_deg']:.2f} | "
                f"{row['intermodal_deviation_deg']:.2f} |"
            )
    for key, matrix in results["matrices"].items():
        lines += ["", f"## {MATRIX_TITLES.get(key, key)}: checkpoint × task", ""]
        lines += ["| checkpoint | " + " | ".join(matrix["columns"]) + " |"]
        lines += ["| --- |" + " ---: |" * len(matrix["columns"])]
        for row_name, row in zip(matrix["rows"], matrix["values"], strict=True):
            lines.append(f"| {row_name} | " + " | ".join(_number(value) for value in row) + " |")
    if plots:
        lines += ["", "## Plots", ""] + [f"![{path.stem}]({path.name})" for path in plots]
    lines += ["", f"Evaluated in {results['seconds']:.1f} s.", ""]
    return "\n".join(lines)


def write_report(results: dict, output_dir: str | Path, plots: bool = True) -> dict[str, Path]:
    """``eval_results.json``, ``eval_summary.md`` and the PNG plots; returns their paths."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    json_path = output_dir / "eval_results.json"
    json_path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    plot_paths = write_plots(results, output_dir) if plots else []
    markdown_path = output_dir / "eval_summary.md"
    markdown_path.write_text(markdown_summary(results, plot_paths))
    return {"json": json_path, "markdown": markdown_path, **{path.stem: path for path in plot_paths}}
