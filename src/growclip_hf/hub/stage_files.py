"""What one stage's revision holds: its own model folder, the growth log up to it, its card and the demo."""

from __future__ import annotations

import json
from pathlib import Path

from .card import read_growth_log, render_stage_card
from .resources import space_dir

DEFAULT_DEMO_DIR = space_dir()  # the Space shipped in the wheel; a missing one fails loudly here
_SKIPPED_PARTS = {"__pycache__", ".git", ".ipynb_checkpoints"}
_FORBIDDEN_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".ckpt"}


def _folder_files(folder: Path, prefix: str = "") -> dict[str, Path]:
    """Path in repo -> the file on disk: uploads stream it (a real-size checkpoint is GBs; read whole, it used to
    double the publishing process's memory)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or _SKIPPED_PARTS & set(relative.parts) or relative.name.startswith("."):
            continue
        if path.suffix in _FORBIDDEN_SUFFIXES:
            raise ValueError(f"{path} is a pickle-based weight file; only safetensors are published.")
        files[prefix + relative.as_posix()] = path
    return files


def check_stage_dir(stage_dir: Path) -> None:
    missing = [name for name in ("config.json", "model.safetensors") if not (stage_dir / name).is_file()]
    if not stage_dir.is_dir() or missing:
        raise FileNotFoundError(f"{stage_dir} is not a saved stage folder (missing: {', '.join(missing) or 'folder'}).")
    config = json.loads((stage_dir / "config.json").read_text())
    if "auto_map" not in config:
        raise ValueError(
            f"{stage_dir}/config.json has no auto_map; the revision would not load with trust_remote_code."
        )


def stage_files(
    stage_dir: Path,
    repo_id: str,
    stage: int,
    run_dir: Path | None = None,
    demo_dir: Path | None = DEFAULT_DEMO_DIR,
) -> dict[str, bytes | Path]:
    """Path in repo -> bytes (generated files) or a file path (files of the folder) for exactly this stage; nothing
    from other stage folders is read."""
    stage_dir = Path(stage_dir)
    check_stage_dir(stage_dir)
    files = _folder_files(stage_dir)
    log = read_growth_log(Path(run_dir) if run_dir else None, stage)
    files["growth_log.jsonl"] = "".join(json.dumps(row, sort_keys=True) + "\n" for row in log).encode()
    has_demo = demo_dir is not None and Path(demo_dir).is_dir()
    if has_demo:
        files.update(_folder_files(Path(demo_dir), prefix="spaces_demo/"))
    files["README.md"] = render_stage_card(stage_dir, repo_id, stage, run_dir, has_demo=has_demo).encode()
    return files
