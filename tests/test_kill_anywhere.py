"""Kill anywhere: a run SIGKILLed during the growth search, mid-stream from the (local) Hub, while a checkpoint is
written and while a stage is published, then resumed each time, ends with the weights of an uninterrupted run and
every stage published once."""

import json
import subprocess
import sys

import pytest
import yaml
from huggingface_hub import HfApi
from safetensors.torch import load_file

from growclip_hf.hub import start_server
from growclip_hf.hub.loopback import local_hub_env, loopback_hub

from .run_helpers import cli_env, git_refs
from .stream_helpers import tiny_stream_settings, write_yearly_stream

# In the order they are met: the search opens stage 1; the stream is read during it; then a checkpoint; then the
# stage-end publish of stage 1.
KILLS = ("search:1", "stream:3", "checkpoint:2", "publish:1")
DATASET = "org/fashion-years"


def _settings(output_dir) -> dict:
    settings = tiny_stream_settings(output_dir)
    settings["training"] |= {"steps_per_stage": 6, "checkpoint_every": 2}
    settings["growth"] = {
        "policy": "auto",
        "max_search_fraction": 0.5,
        "min_proxy_steps": 1,
        "space": {"width_factor": 1.0, "heads_step": 0, "mlp_factor": 1.0},
    }
    settings["data"] = {
        "chunks": [{"name": str(y), "source": DATASET, "data_dir": str(y), "size": 80} for y in (2021, 2022)],
        "image_column": "jpg",
        "text_column": "txt",
        "heldout_fraction": 0.1,
        "heldout_pairs": 16,
    }
    return settings


def _train(config, tmp_path, url: str, repo: str, resume: bool, kill: str | None = None):
    env = cli_env(tmp_path) | local_hub_env(url) | ({"GROWCLIP_KILL_AT": kill} if kill else {})
    command = [sys.executable, "-m", "growclip_hf.cli", "train", str(config), "--no-report"]
    command += ["--push-to", repo, "--hub-endpoint", url] + (["--resume"] if resume else [])
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


def _commits(repo_dir, ref: str) -> int:
    out = subprocess.run(
        ["git", "--git-dir", str(repo_dir), "rev-list", "--count", ref], capture_output=True, text=True
    )
    return int(out.stdout)


@pytest.mark.timeout(900)
def test_killed_anywhere_and_resumed_matches_the_uninterrupted_run(tmp_path):
    url, stop = start_server(tmp_path / "hub", host="127.0.0.1", port=0)
    try:
        with loopback_hub(url):
            api = HfApi(endpoint=url)
            api.create_repo(DATASET, repo_type="dataset")
            stream_root = write_yearly_stream(tmp_path / "stream", per_year=80)
            api.upload_folder(repo_id=DATASET, repo_type="dataset", folder_path=str(stream_root))
        configs = {}
        for name in ("reference", "killed"):
            configs[name] = tmp_path / f"{name}.yaml"
            configs[name].write_text(yaml.safe_dump(_settings(tmp_path / name)))
        reference = _train(configs["reference"], tmp_path, url, "org/reference", resume=False)
        assert reference.returncode == 0, reference.stderr[-4000:]
        for attempt, kill in enumerate(KILLS):
            killed = _train(configs["killed"], tmp_path, url, "org/killed", resume=attempt > 0, kill=kill)
            assert killed.returncode == -9, f"not killed at {kill}: {killed.stderr[-3000:]}"
        finished = _train(configs["killed"], tmp_path, url, "org/killed", resume=True)
        assert finished.returncode == 0, finished.stderr[-4000:]
    finally:
        stop()

    decisions = [json.loads(line) for line in (tmp_path / "killed" / "growth_log.jsonl").read_text().splitlines()]
    assert decisions and "search" in decisions[-1]
    for stage in (0, 1):
        expected = load_file(tmp_path / "reference" / f"stage-{stage}" / "model.safetensors")
        result = load_file(tmp_path / "killed" / f"stage-{stage}" / "model.safetensors")
        assert expected.keys() == result.keys()
        assert max((expected[k] - result[k]).abs().max().item() for k in expected) <= 1e-6
    hub_reference, hub_killed = (tmp_path / "hub" / "models" / "org" / n for n in ("reference", "killed"))
    assert git_refs(hub_killed) == git_refs(hub_reference) == {"main", "stage-0", "stage-1", "stage-0-v1", "stage-1-v1"}
    for ref in ("stage-0", "stage-1", "main"):  # each stage exactly once: no second commit of the same stage
        assert _commits(hub_killed, ref) == _commits(hub_reference, ref)
