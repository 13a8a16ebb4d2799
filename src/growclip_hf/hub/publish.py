"""Push growth stages as Hub revisions: branch ``stage-{k}``, immutable tag ``stage-{k}-v1``, ``main`` = latest stage.

Each revision is written by one ``create_commit`` (atomic on the Hub and on the local server), holding exactly the
stage's files: files from an earlier revision that the stage does not have are deleted in the same commit.
Re-pushing an unchanged stage makes no commit (huggingface_hub skips unchanged files and empty commits).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

from ..faults import kill_point
from .card import stage_tag
from .retry import with_retries
from .stage_files import DEFAULT_DEMO_DIR, stage_files

logger = logging.getLogger(__name__)
_STAGE_DIR = re.compile(r"^stage-(\d+)$")


@dataclass
class PushResult:
    stage: int
    branch: str
    tag: str
    commit: str
    changed: bool
    main_moved: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _branch_heads(api: HfApi, repo_id: str) -> tuple[dict[str, str], dict[str, str]]:
    refs = with_retries(lambda: api.list_repo_refs(repo_id), "list_repo_refs")
    return {b.name: b.target_commit for b in refs.branches}, {t.name: t.target_commit for t in refs.tags}


def _commit_exactly(
    api: HfApi, repo_id: str, branch: str, head: str, files: dict[str, bytes | Path], message: str
) -> str:
    """Make ``branch`` hold exactly ``files`` in one commit on top of ``head`` (no commit when nothing changed)."""
    remote = with_retries(lambda: api.list_repo_files(repo_id, revision=branch), "list_repo_files")
    operations = [
        CommitOperationAdd(path, content if isinstance(content, bytes) else str(content))
        for path, content in sorted(files.items())
    ]
    operations += [CommitOperationDelete(path) for path in sorted(set(remote) - set(files))]
    info = with_retries(
        lambda: api.create_commit(repo_id, operations, commit_message=message, revision=branch, parent_commit=head),
        f"commit to {branch}",
    )
    return info.oid


def push_stage(
    stage_dir,
    repo_id: str,
    stage_index: int,
    endpoint: str | None = None,
    token: str | None = None,
    run_dir=None,
    demo_dir=DEFAULT_DEMO_DIR,
) -> dict:
    """Publish one stage; safe to call again (idempotent) and at each stage end of a training run.

    ``token`` falls back to ``HF_TOKEN`` / the huggingface_hub login, resolved by ``HfApi``; it is never logged.
    """
    if not isinstance(stage_index, int) or stage_index < 0:
        raise ValueError(f"stage_index must be a non-negative int, got {stage_index!r}.")
    stage_dir = Path(stage_dir)
    if run_dir is None and (stage_dir.parent / "growth_log.jsonl").exists():
        run_dir = stage_dir.parent
    files = stage_files(stage_dir, repo_id, stage_index, Path(run_dir) if run_dir else None, demo_dir)
    api = HfApi(endpoint=endpoint, token=token)
    with_retries(lambda: api.create_repo(repo_id, exist_ok=True), "create_repo")
    branch, tag = f"stage-{stage_index}", stage_tag(stage_index)
    branches, tags = _branch_heads(api, repo_id)
    created_branch = branch not in branches
    if created_branch:
        with_retries(lambda: api.create_branch(repo_id, branch=branch, revision="main", exist_ok=True), "create_branch")
        branches, tags = _branch_heads(api, repo_id)
    info = json.loads((stage_dir / "stage_info.json").read_text()) if "stage_info.json" in files else {}
    message = f"Stage {stage_index}: {info.get('architecture', 'model')}"
    try:
        commit = _commit_exactly(api, repo_id, branch, branches[branch], files, message)
    except Exception:
        if created_branch:  # a new branch still holds its start point, not this stage: remove it
            _delete_branch_quietly(api, repo_id, branch)
        raise
    kill_point("publish")  # the stage's commit is in, its tag not yet
    changed = commit != branches[branch]
    if tag not in tags:
        with_retries(
            lambda: api.create_tag(repo_id, tag=tag, revision=commit, tag_message=message, exist_ok=True),
            "create_tag",
        )
    elif tags[tag] != commit:
        logger.warning("Tag %s stays at %s (tags are immutable); branch %s now has %s.", tag, tags[tag], branch, commit)
    later = [n for n in branches if _STAGE_DIR.match(n) and int(_STAGE_DIR.match(n).group(1)) > stage_index]
    main_moved = False
    if not later:
        new_main = _commit_exactly(api, repo_id, "main", branches["main"], files, f"main -> {message}")
        main_moved = new_main != branches["main"]
    return PushResult(stage_index, branch, tag, commit, changed, main_moved).as_dict()


def _delete_branch_quietly(api: HfApi, repo_id: str, branch: str) -> None:
    try:
        with_retries(lambda: api.delete_branch(repo_id, branch=branch), "delete_branch")
    except Exception as error:  # noqa: BLE001 - the original failure is the one to report
        logger.warning("Could not remove branch %s after a failed push: %s", branch, type(error).__name__)


def run_stage_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    stages = sorted(
        (int(m.group(1)), p) for p in Path(run_dir).iterdir() if p.is_dir() and (m := _STAGE_DIR.match(p.name))
    )
    if not stages:
        raise FileNotFoundError(f"{run_dir} has no stage-{{k}} folders; is it a run folder?")
    return stages


def push_run(
    run_dir, repo_id: str, endpoint: str | None = None, token: str | None = None, demo_dir=DEFAULT_DEMO_DIR
) -> list[dict]:
    """Publish every stage of a run folder, in order, so ``main`` ends at the latest stage."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"Run folder {run_dir} does not exist.")
    return [
        push_stage(stage_dir, repo_id, index, endpoint=endpoint, token=token, run_dir=run_dir, demo_dir=demo_dir)
        for index, stage_dir in run_stage_dirs(run_dir)
    ]
