"""Where the demo's stages come from: a local run folder (``stage-*/``), one model folder, or a Hub repository's
revisions (branches and tags named ``stage-{k}``, listed with ``HfApi.list_repo_refs``; any endpoint, e.g. a local Hub).

Every source answers the same two questions, which stages exist and which local folder holds one, so the rest of the
demo only ever reads folders.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..evaluation.cli import default_manifest
from ..evaluation.runs import discover_stages

STAGE_REVISION = re.compile(r"^stage-(\d+)$")
METADATA_PATTERNS = ["*.json", "*.jsonl"]


@dataclass
class StageSource:
    """The stages a demo can show, by name, in growth order, and where each one's files are."""

    stage_names: list[str]
    local_folders: dict[str, Path] = field(default_factory=dict)
    repo_id: str | None = None
    endpoint: str | None = None
    manifest: Path | None = None
    description: str = ""

    def folder(self, name: str, metadata_only: bool = False) -> Path:
        """The local folder of stage ``name`` (downloaded from the Hub on first use; only the JSON files when
        ``metadata_only``, which is all the growth plot needs)."""
        if name not in self.stage_names:
            raise KeyError(f"Unknown stage {name!r}; available: {', '.join(self.stage_names)}.")
        if name in self.local_folders:
            return self.local_folders[name]
        from huggingface_hub import snapshot_download

        path = snapshot_download(
            self.repo_id,
            revision=name,
            endpoint=self.endpoint,
            allow_patterns=METADATA_PATTERNS if metadata_only else None,
        )
        if not metadata_only:
            self.local_folders[name] = Path(path)
        return Path(path)


def local_source(path: str | Path, manifest: str | Path | None = None) -> StageSource:
    """A run folder's ``stage-*/`` models (or one model folder), with the run's benchmark manifest when it has one."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; pass a run folder (stage-*/) or a model folder.")
    folders = {
        single_folder_name(stage.path) if stage.path == path else stage.name: stage.path
        for stage in discover_stages(path)
    }
    manifest_path = Path(manifest) if manifest else default_manifest(path)
    return StageSource(
        stage_names=list(folders),
        local_folders=folders,
        manifest=manifest_path,
        description=f"local folder {path}",
    )


def single_folder_name(folder: Path) -> str:
    """``stage-{k}`` from the folder's ``stage_info.json`` (a Space's folder is named after the Space, not the stage),
    else the folder's name."""
    info = folder / "stage_info.json"
    stage = json.loads(info.read_text()).get("stage") if info.is_file() else None
    return f"stage-{stage}" if isinstance(stage, int) else folder.name


def revision_sort_key(name: str) -> tuple[int, str]:
    match = STAGE_REVISION.match(name)
    return (int(match.group(1)), name) if match else (10**9, name)


def hub_source(
    repo_id: str, endpoint: str | None = None, revision: str | None = None, manifest: str | Path | None = None
) -> StageSource:
    """The stage revisions of a Hub repository (``stage-{k}`` branches and tags; ``main`` when there is none), or only
    ``revision`` when given."""
    if revision:
        names = [revision]
    else:
        from huggingface_hub import HfApi

        refs = HfApi(endpoint=endpoint).list_repo_refs(repo_id)
        candidates = {ref.name for ref in [*refs.branches, *refs.tags]}
        names = sorted((name for name in candidates if STAGE_REVISION.match(name)), key=revision_sort_key)
        names = names or (["main"] if "main" in candidates else sorted(candidates))
    if not names:
        raise ValueError(f"The Hub repository {repo_id} has no revisions to show.")
    return StageSource(
        stage_names=names,
        repo_id=repo_id,
        endpoint=endpoint,
        manifest=Path(manifest) if manifest else None,
        description=f"Hub repository {repo_id}" + (f" at {endpoint}" if endpoint else ""),
    )


def source_from_environment(app_folder: str | Path) -> StageSource:
    """The source of a Space: ``GROWCLIP_DEMO_REPO_ID`` (+ ``GROWCLIP_DEMO_REVISION``, ``GROWCLIP_DEMO_ENDPOINT``), else
    ``GROWCLIP_DEMO_MODEL`` (a local folder), else the model the app sits next to (its folder or the parent)."""
    manifest = os.environ.get("GROWCLIP_DEMO_MANIFEST")
    repo_id = os.environ.get("GROWCLIP_DEMO_REPO_ID")
    if repo_id:
        return hub_source(
            repo_id,
            endpoint=os.environ.get("GROWCLIP_DEMO_ENDPOINT") or None,
            revision=os.environ.get("GROWCLIP_DEMO_REVISION") or None,
            manifest=manifest,
        )
    if os.environ.get("GROWCLIP_DEMO_MODEL"):
        return local_source(os.environ["GROWCLIP_DEMO_MODEL"], manifest)
    app_folder = Path(app_folder).resolve()
    for candidate in (app_folder, app_folder.parent):
        if (candidate / "config.json").is_file() or any(candidate.glob("stage-*/config.json")):
            return local_source(candidate, manifest)
    raise FileNotFoundError(
        f"No model next to {app_folder}: set GROWCLIP_DEMO_REPO_ID (and GROWCLIP_DEMO_REVISION) or GROWCLIP_DEMO_MODEL."
    )
