"""PNG plots of an evaluation: the R matrix heatmap, per-task curves across stages, the growth timeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # figures without pyplot: no global backend or state is touched


def plot_matrix_heatmap(matrix: dict, title: str, path: Path) -> Path:
    """Heatmap of a stage x task matrix with each cell's value written in it."""
    values = np.asarray(matrix["values"], dtype=float)
    figure = Figure(figsize=(max(4.5, 1.5 + 0.9 * values.shape[1]), max(3.5, 1.5 + 0.6 * values.shape[0])))
    axes = figure.subplots()
    image = axes.imshow(values, cmap="viridis", vmin=0.0, vmax=max(100.0 if values.max() > 1 else 1.0, values.max()))
    axes.set_xticks(range(values.shape[1]), matrix["columns"], rotation=45, ha="right")
    axes.set_yticks(range(values.shape[0]), matrix["rows"])
    for (row, column), value in np.ndenumerate(values):
        axes.text(column, row, f"{value:.1f}", ha="center", va="center", color="white" if value < 50 else "black")
    axes.set_xlabel("evaluated on")
    axes.set_ylabel("checkpoint")
    axes.set_title(title)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return _save(figure, path)


def plot_task_curves(matrix: dict, title: str, path: Path) -> Path:
    """One line per task: its metric after each stage, showing learning and forgetting over the stream."""
    values = np.asarray(matrix["values"], dtype=float)
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for column, name in enumerate(matrix["columns"]):
        axes.plot(range(values.shape[0]), values[:, column], marker="o", label=name)
    axes.set_xticks(range(values.shape[0]), matrix["rows"])
    axes.set_xlabel("checkpoint")
    axes.set_title(title)
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(figure, path)


def plot_growth_timeline(stages: list[dict], path: Path, growth_log: list[dict] | None = None) -> Path:
    """Parameters against samples seen, one point per stage (at the samples seen when it was saved), drawn as steps
    that rise when a stage's larger model took over; growth-log records with ``samples_seen`` and ``params_after`` are
    marked as growth events. Without samples seen, the x axis is the stage."""
    known = all(stage.get("samples_seen") is not None for stage in stages)
    x = [stage["samples_seen"] if known else position for position, stage in enumerate(stages)]
    parameters = [stage["parameters"] / 1e6 for stage in stages]
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    axes.step([0 if known else -1, *x], [parameters[0], *parameters], where="pre", color="tab:blue")
    axes.plot(x, parameters, "o", color="tab:blue", label="stage checkpoints")
    for x_value, y_value, stage in zip(x, parameters, stages, strict=True):
        axes.annotate(stage["name"], (x_value, y_value), textcoords="offset points", xytext=(4, 4), fontsize="small")
    events = [
        (record["samples_seen"], record["params_after"] / 1e6)
        for record in growth_log or []
        if isinstance(record.get("samples_seen"), (int, float)) and isinstance(record.get("params_after"), (int, float))
    ]
    if known and events:
        axes.plot(*zip(*events, strict=True), "^", color="tab:red", label="growth")
    axes.set_xlabel("samples seen" if known else "stage (samples seen not logged)")
    axes.set_ylabel("parameters (millions)")
    axes.set_title("Growth timeline")
    axes.legend(fontsize="small")
    return _save(figure, path)


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
