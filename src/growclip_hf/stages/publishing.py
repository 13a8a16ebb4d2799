"""Publishing a run's stages: to a configured repository at each stage end, or (the main job's default) to a local
Hub under OUT/hub after the run, so every stage is a revision that ``from_pretrained(repo, revision=...)`` loads."""

from __future__ import annotations

from pathlib import Path

LOCAL_REPO_ID = "local/growclip"


def stage_publisher(repo_id: str, endpoint: str | None, run_dir: Path):
    """A ``publish(stage, folder)`` hook for ContinualRun (the token comes from HF_TOKEN / the login, never args)."""
    from ..hub import push_stage
    from ..hub.loopback import loopback_scope

    def publish(stage: int, folder: Path) -> dict:
        with loopback_scope(endpoint):
            return push_stage(folder, repo_id, stage, endpoint=endpoint, run_dir=run_dir)

    return publish


def publish_to_local_hub(run_dir: Path) -> tuple[Path, list[dict]]:
    """Serve OUT/hub on a free loopback port for the time of the push, and push every stage of the run."""
    from ..hub import push_run, start_server
    from ..hub.loopback import loopback_scope

    root = Path(run_dir) / "hub"
    url, stop = start_server(root, host="127.0.0.1", port=0)
    try:
        with loopback_scope(url):
            results = push_run(run_dir, LOCAL_REPO_ID, endpoint=url)
    finally:
        stop()
    return root, results
