"""Training settings: one dataclass, loadable from YAML or TOML, overridable from the command line."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import tomllib
import yaml


def read_settings_file(path: str | Path) -> dict:
    """A ``.yaml``/``.yml``/``.toml``/``.json`` file as a dict; errors say which formats are understood."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file {path} does not exist.")
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        return yaml.safe_load(text) or {}
    if path.suffix == ".toml":
        return tomllib.loads(text)
    if path.suffix == ".json":
        return json.loads(text)
    raise ValueError(f"Config file {path} must end in .yaml, .yml, .toml or .json.")


@dataclass
class TrainingConfig:
    """How to train each stage of a stream. Sizes are per process unless named ``global``."""

    output_dir: str = "outputs/run"
    batch_size: int = 64
    accumulation_steps: int = 1
    learning_rate: float = 5e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_steps: int = 10
    min_lr_ratio: float = 0.1
    lr_schedule: str = "cosine"  # or "wsd": warmup, the peak, then a linear decay over the last decay_fraction
    decay_fraction: float = 0.2
    lr_width_rule: str = "none"  # or "mup": hidden matrices train at learning_rate * lr_base_width / width
    lr_base_width: int | None = None
    max_grad_norm: float = 1.0
    epochs_per_stage: float = 1.0
    steps_per_stage: int | None = None
    # Equal compute per chunk: steps = (this - search) / training FLOPs per step. A list gives each stage its own
    # budget (the last one repeats): web data grows year by year, and so may the compute a chunk gets.
    flops_per_stage: float | list[float] | None = None
    mixed_precision: str = "no"
    gradient_checkpointing: bool = False
    checkpoint_every: int = 50
    keep_last_checkpoints: int = 2
    log_every: int = 10
    ramp_steps: int = 50
    tracker: str | None = "tensorboard"
    seed: int = 0
    num_workers: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.batch_size < 1 or self.accumulation_steps < 1:
            raise ValueError("batch_size and accumulation_steps must be >= 1.")
        if self.mixed_precision not in ("no", "bf16", "fp16"):
            raise ValueError(f"mixed_precision must be 'no', 'bf16' or 'fp16', got {self.mixed_precision!r}.")
        if self.keep_last_checkpoints < 1:
            raise ValueError("keep_last_checkpoints must be >= 1 (resume needs at least one checkpoint).")
        if self.flops_per_stage is not None:
            budgets = self.flops_per_stage
            budgets = budgets if isinstance(budgets, (list, tuple)) else [budgets]
            numbers = all(isinstance(b, (int, float)) and not isinstance(b, bool) and b > 0 for b in budgets)
            if not budgets or not numbers or self.steps_per_stage:
                raise ValueError(
                    "flops_per_stage must be a FLOP budget > 0 or a list of them (one per stage, the last repeats), "
                    f"and cannot be combined with steps_per_stage; got {self.flops_per_stage!r}."
                )
        if self.lr_schedule not in ("cosine", "wsd"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'wsd', got {self.lr_schedule!r}.")
        if not 0.0 < self.decay_fraction <= 1.0:
            raise ValueError(f"decay_fraction must be in (0, 1], got {self.decay_fraction}.")
        if self.lr_width_rule not in ("none", "mup"):
            raise ValueError(f"lr_width_rule must be 'none' or 'mup', got {self.lr_width_rule!r}.")
        if self.lr_width_rule == "mup" and not (self.lr_base_width and self.lr_base_width > 0):
            raise ValueError("lr_width_rule='mup' needs lr_base_width > 0 (the width that trains at learning_rate).")
        self.betas = tuple(self.betas)

    @classmethod
    def from_file(cls, path: str | Path, overrides: dict | None = None) -> TrainingConfig:
        """Read a ``.yaml``/``.yml``/``.toml``/``.json`` file (its ``training`` table if present)."""
        data = read_settings_file(path)
        data = data.get("training", data)
        return cls.from_dict({**data, **(overrides or {})})

    @classmethod
    def from_dict(cls, data: dict) -> TrainingConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training settings {unknown}; known: {sorted(known)}.")
        return cls(**data)

    def stage_flops(self, stage: int) -> float | None:
        """Stage ``stage``'s FLOP budget (None without ``flops_per_stage``)."""
        budgets = self.flops_per_stage
        if not isinstance(budgets, (list, tuple)):
            return budgets
        return float(budgets[min(stage, len(budgets) - 1)])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
