"""The growth-history plot: parameters against samples seen, one point per stage, growth steps annotated.

Points come from each stage's ``stage_info.json`` (written by the trainer); without it, from the ``growth_history`` of
the stage's ``config.json`` (``params_after`` at ``samples_seen``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@dataclass(frozen=True)
class GrowthPoint:
    stage: str
    samples_seen: int
    parameters: int
    changes: str = ""


def stage_point(name: str, folder: Path) -> GrowthPoint | None:
    """The stage's size and data seen, or None when its folder records neither."""
    info_path, config_path = folder / "stage_info.json", folder / "config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    history = config.get("growth_history") or []
    changes = "; ".join(history[-1].get("changes", [])) if history else ""
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        if isinstance(info.get("parameters"), int) and isinstance(info.get("samples_seen"), (int, float)):
            return GrowthPoint(name, int(info["samples_seen"]), info["parameters"], changes)
    if history and isinstance(history[-1].get("params_after"), int):
        return GrowthPoint(name, int(history[-1].get("samples_seen") or 0), history[-1]["params_after"], changes)
    return None


def growth_figure(points: list[GrowthPoint]):
    """A matplotlib figure of parameters vs samples seen (a message in the figure when there are no points)."""
    figure, axis = plt.subplots(figsize=(6, 3.2), dpi=100)
    if not points:
        axis.text(0.5, 0.5, "No growth history recorded for these stages.", ha="center", va="center")
        axis.set_axis_off()
        return figure
    xs = [point.samples_seen for point in points]
    ys = [point.parameters for point in points]
    axis.step(xs, ys, where="post", color="tab:blue")
    axis.scatter(xs, ys, color="tab:blue", zorder=3)
    for point in points:
        label = point.stage + (f"\n{point.changes}" if point.changes else "")
        axis.annotate(
            label, (point.samples_seen, point.parameters), textcoords="offset points", xytext=(4, 6), fontsize=7
        )
    axis.set_xlabel("samples seen")
    axis.set_ylabel("parameters")
    axis.set_title("Growth history")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure
