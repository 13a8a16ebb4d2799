"""Atomic, pruned Accelerate checkpoints: written to a temporary folder, then renamed into place.

A folder named ``checkpoint-<step>`` is therefore always complete; a crash mid-save leaves only a ``.tmp-`` folder,
which the next save or resume ignores and removes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..faults import kill_point
from . import state_codec

CHECKPOINT_PREFIX = "checkpoint-"
TRAINER_STATE = "trainer_state.json"
MODEL_CONFIG = "model_config.json"


def complete_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX)]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX) :]))


def latest_checkpoint(root: str | Path) -> Path | None:
    checkpoints = complete_checkpoints(root)
    return checkpoints[-1] if checkpoints else None


def save_checkpoint(
    accelerator, root: str | Path, step: int, state: dict, model_config: dict, keep_last: int, write_extra=None
) -> Path:
    """Save model/optimizer/RNG (Accelerate) plus our JSON state, atomically; keep the ``keep_last`` newest.

    ``write_extra(folder)`` runs on the main process before the rename (e.g. a strategy's teacher models).
    """
    root = Path(root)
    final = root / f"{CHECKPOINT_PREFIX}{step:08d}"
    temporary = root / f".tmp-{CHECKPOINT_PREFIX}{step:08d}"
    if accelerator.is_main_process:
        shutil.rmtree(temporary, ignore_errors=True)
        temporary.mkdir(parents=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(temporary), safe_serialization=True)
    rank_state = state.pop("rank_state", None)
    if rank_state is not None:
        (temporary / f"rank_state_{accelerator.process_index}.json").write_text(state_codec.dumps(rank_state))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (temporary / TRAINER_STATE).write_text(json.dumps(state, indent=2))
        (temporary / MODEL_CONFIG).write_text(json.dumps(model_config, indent=2))
        if write_extra is not None:
            write_extra(temporary)
        kill_point("checkpoint")
        if final.exists():
            shutil.rmtree(final)
        temporary.rename(final)
        for old in complete_checkpoints(root)[:-keep_last] if keep_last > 0 else []:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint_state(folder: str | Path, process_index: int) -> tuple[dict, dict, dict | None]:
    """(trainer state, model config dict, this rank's state or None) from a complete checkpoint folder."""
    folder = Path(folder)
    state = json.loads((folder / TRAINER_STATE).read_text())
    config = json.loads((folder / MODEL_CONFIG).read_text())
    rank_file = folder / f"rank_state_{process_index}.json"
    rank_state = state_codec.loads(rank_file.read_text()) if rank_file.exists() else None
    return state, config, rank_state
