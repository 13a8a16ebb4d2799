"""Find the checkpoints of a run folder (``stage-{k}/``), load them, and read how big they were and when.

A run folder holds ``stage-{k}/`` folders that ``from_pretrained`` loads (model + processor) and optionally
``growth_log.jsonl``; a model folder is one such stage on its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from transformers import AutoProcessor

from ..models.growclip import GrowCLIPModel

STAGE_PATTERN = re.compile(r"^stage-(\d+)$")
GROWTH_LOG = "growth_log.jsonl"


@dataclass(frozen=True)
class Stage:
    name: str
    index: int
    path: Path


def discover_stages(path: str | Path) -> list[Stage]:
    """The stages of a run folder in numeric order, or the single model folder ``path`` itself."""
    path = Path(path)
    if (path / "config.json").is_file():
        return [Stage(path.name, 0, path)]
    stages = []
    for child in path.iterdir() if path.is_dir() else []:
        match = STAGE_PATTERN.match(child.name)
        if match and (child / "config.json").is_file():
            stages.append(Stage(child.name, int(match.group(1)), child))
    if not stages:
        raise FileNotFoundError(
            f"{path} is neither a model folder (config.json) nor a run folder with stage-*/ models."
        )
    return sorted(stages, key=lambda stage: stage.index)


def load_stage(stage: Stage, device: str = "cpu"):
    """The stage's model (eval mode, fp32) and processor."""
    model = GrowCLIPModel.from_pretrained(stage.path).to(device).float().eval()
    processor = AutoProcessor.from_pretrained(stage.path)
    return model, processor


def read_growth_log(run_dir: str | Path) -> list[dict]:
    """Records of ``growth_log.jsonl`` (one JSON object a line; blank lines skipped), or [] when there is none."""
    log_path = Path(run_dir) / GROWTH_LOG
    if not log_path.is_file():
        return []
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


def samples_seen(stage: Stage, config, growth_log: list[dict]) -> int | None:
    """Samples seen when the stage was saved: from the stage's ``stage_info.json`` (written by the trainer), else the
    largest ``samples_seen`` of the growth-log records of this stage (``"stage"`` equal to its index or name), else
    of its config's last ``growth_history`` entry, else None."""
    info = stage.path / "stage_info.json"
    if info.is_file():
        recorded = json.loads(info.read_text()).get("samples_seen")
        if isinstance(recorded, (int, float)):
            return int(recorded)
    values = [
        record["samples_seen"]
        for record in growth_log
        if record.get("stage") in (stage.index, stage.name) and isinstance(record.get("samples_seen"), (int, float))
    ]
    if values:
        return int(max(values))
    history = getattr(config, "growth_history", None) or []
    if history and isinstance(history[-1].get("samples_seen"), (int, float)):
        return int(history[-1]["samples_seen"])
    return None
