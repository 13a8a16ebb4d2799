"""Push a real two-stage run to the local Hub, then read it back three independent ways.

1. huggingface_hub + transformers: ``from_pretrained(repo, revision=...)`` against our server;
2. the ``olah`` mirror serving the same git repositories;
3. ``git clone`` + ``git checkout`` of each stage's tag.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, ModelCard, snapshot_download
from huggingface_hub.errors import HfHubHTTPError
from safetensors.torch import load_file
from transformers import AutoModel

from growclip_hf.cli import main
from growclip_hf.hub import push_run, push_stage
from growclip_hf.hub.server.app import LocalHubServer, serve_in_thread
from growclip_hf.hub.server.git_store import StoreError
from growclip_hf.hub.stage_files import DEFAULT_DEMO_DIR

from .hub_helpers import allow_loopback_hub
from .run_helpers import free_port, small_run

REPO = "growclip/tiny"


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The run, pushed once to a fresh local Hub; yields (run_dir, server, url, push results)."""
    run_dir = small_run(tmp_path_factory.getbasetemp())  # the demo tests' run: built once per session, read here
    server = LocalHubServer(tmp_path_factory.mktemp("hub") / "hub-root")
    url, stop = serve_in_thread(server)
    with pytest.MonkeyPatch.context() as patch:
        allow_loopback_hub(patch, url)
        results = push_run(run_dir, REPO, endpoint=url, token="unused")
    yield run_dir, server, url, results
    stop()


@pytest.fixture
def hub(published, monkeypatch):
    run_dir, server, url, results = published
    allow_loopback_hub(monkeypatch, url)
    return run_dir, server, url, results


def expected_files(run_dir: Path, stage: int) -> set[str]:
    own = {p.name for p in (run_dir / f"stage-{stage}").iterdir() if p.is_file()}
    demo = set()
    if DEFAULT_DEMO_DIR.is_dir():
        demo = {
            "spaces_demo/" + p.relative_to(DEFAULT_DEMO_DIR).as_posix()
            for p in DEFAULT_DEMO_DIR.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
        }
    return own | demo | {"README.md", "growth_log.jsonl"}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_stage_is_a_branch_and_tag_and_main_is_the_latest(hub):
    run_dir, server, url, results = hub
    api = HfApi(endpoint=url)
    refs = api.list_repo_refs(REPO)
    branches = {b.name: b.target_commit for b in refs.branches}
    tags = {t.name: t.target_commit for t in refs.tags}
    assert [r["stage"] for r in results] == [0, 1] and all(r["changed"] for r in results)
    assert set(branches) == {"main", "stage-0", "stage-1"} and set(tags) == {"stage-0-v1", "stage-1-v1"}
    assert tags["stage-0-v1"] == branches["stage-0"] and tags["stage-1-v1"] == branches["stage-1"]
    assert branches["stage-0"] != branches["stage-1"]
    for revision, stage in (("stage-0", 0), ("stage-1-v1", 1), ("main", 1)):
        assert set(api.list_repo_files(REPO, revision=revision)) == expected_files(run_dir, stage), revision
    info = api.model_info(REPO, revision="stage-0-v1")
    assert info.sha == tags["stage-0-v1"]


def test_pushing_again_changes_nothing(hub):
    run_dir, server, url, results = hub
    api = HfApi(endpoint=url)
    before = api.list_repo_refs(REPO)
    again = push_stage(run_dir / "stage-1", REPO, 1, endpoint=url, run_dir=run_dir)
    assert again["changed"] is False and again["main_moved"] is False
    assert again["commit"] == results[1]["commit"]
    assert api.list_repo_refs(REPO) == before


def test_from_pretrained_by_revision_through_huggingface_hub(hub, tmp_path):
    run_dir, server, url, results = hub
    for stage in (0, 1):
        model = AutoModel.from_pretrained(
            REPO, revision=f"stage-{stage}", trust_remote_code=True, cache_dir=tmp_path / "cache"
        )
        local = load_file(run_dir / f"stage-{stage}" / "model.safetensors")
        remote = model.state_dict()
        assert (
            sum(p.numel() for p in model.parameters())
            == json.loads((run_dir / f"stage-{stage}" / "stage_info.json").read_text())["parameters"]
        )
        for name, tensor in local.items():
            assert torch.equal(remote[name], tensor), name
    vision_layers = [
        AutoModel.from_pretrained(REPO, revision=f"stage-{k}-v1", cache_dir=tmp_path / "cache").config.vision_config
        for k in (0, 1)
    ]
    assert vision_layers[0].num_hidden_layers < vision_layers[1].num_hidden_layers  # stage 1 grew


def test_git_clone_and_checkout_of_each_tag(hub, tmp_path):
    run_dir, server, url, results = hub
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(server.store.path(REPO)), str(clone)], check=True)
    for stage in (0, 1):
        subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", f"stage-{stage}-v1"], check=True)
        listed = subprocess.run(
            ["git", "-C", str(clone), "ls-files"], check=True, capture_output=True, text=True
        ).stdout.split()
        assert set(listed) == expected_files(run_dir, stage)
        for name in ("model.safetensors", "config.json", "modeling_growclip.py", "tokenizer.json"):
            assert sha(clone / name) == sha(run_dir / f"stage-{stage}" / name), (stage, name)
        log = [json.loads(line) for line in (clone / "growth_log.jsonl").read_text().splitlines()]
        assert all(row["stage"] <= stage for row in log) and len(log) == stage  # no later decision leaks in


def test_olah_mirror_serves_the_same_revisions(hub, tmp_path):
    run_dir, server, url, results = hub
    port = free_port()
    config = tmp_path / "olah.toml"
    config.write_text(
        "[basic]\n"
        f'host = "127.0.0.1"\nport = {port}\nrepos-path = "{tmp_path / "olah-cache"}"\n'
        f'mirrors-path = ["{server.store.root}"]\nmirror-netloc = "127.0.0.1:{port}"\n'
        f'mirror-lfs-netloc = "127.0.0.1:{port}"\n\n[accessibility]\noffline = true\n'
    )
    olah = subprocess.Popen(
        [sys.executable, "-m", "olah.server", "-c", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mirror = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{mirror}/api/models/{REPO}/refs", timeout=2)
                break
            except OSError:
                assert olah.poll() is None, "olah exited"
                assert time.time() < deadline, "olah did not start within 60 s"
                time.sleep(0.3)
        refs = HfApi(endpoint=mirror).list_repo_refs(REPO)
        assert {t.name: t.target_commit for t in refs.tags} == {f"stage-{r['stage']}-v1": r["commit"] for r in results}
        for stage in (0, 1):
            folder = Path(
                snapshot_download(
                    REPO, revision=f"stage-{stage}-v1", endpoint=mirror, cache_dir=tmp_path / f"olah-dl-{stage}"
                )
            )
            got = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
            assert got == expected_files(run_dir, stage)
            assert sha(folder / "model.safetensors") == sha(run_dir / f"stage-{stage}" / "model.safetensors")
    finally:
        olah.terminate()
        olah.wait(timeout=10)


def test_model_card_of_each_stage(hub, tmp_path):
    run_dir, server, url, results = hub
    evals = json.loads((run_dir / "eval_results.json").read_text())["stages"]
    for stage in (0, 1):
        path = HfApi(endpoint=url).hf_hub_download(REPO, "README.md", revision=f"stage-{stage}-v1", cache_dir=tmp_path)
        card = ModelCard.load(path)
        assert card.data.library_name == "transformers"
        assert card.data.pipeline_tag == "zero-shot-image-classification"
        assert card.data.license and card.data.datasets and "growclip" in card.data.tags
        entry = next(e for e in evals if e["index"] == stage)
        expected = len(entry["zeroshot"]) + len(entry["retrieval"])
        assert len(card.data.eval_results) == expected
        top1 = {r.dataset_config: r.metric_value for r in card.data.eval_results if r.metric_type == "accuracy"}
        assert top1 == {k: round(v["top1"], 4) for k, v in entry["zeroshot"].items()}
        assert f'revision="stage-{stage}-v1"' in card.text and "## Growth history" in card.text
        rows = [line for line in card.text.splitlines() if line.startswith("| ") and line[2].isdigit()]
        assert [int(r.split("|")[1]) for r in rows[: stage + 1]] == list(range(stage + 1))
        assert "Our reading" in card.text and "PIM rule" in card.text


def test_a_failed_push_leaves_no_revision(hub, tmp_path):
    run_dir, server, url, results = hub
    api = HfApi(endpoint=url)
    repo = "growclip/atomic"
    push_stage(run_dir / "stage-0", repo, 0, endpoint=url, run_dir=run_dir)
    before = api.list_repo_refs(repo)

    def fail(repo_id, branch, commit):
        raise StoreError(507, "disk full: injected failure before the ref moves")  # not transient: no retry wait

    server.store.before_ref_update = fail
    try:
        with pytest.raises(HfHubHTTPError):
            push_stage(run_dir / "stage-1", repo, 1, endpoint=url, run_dir=run_dir)
    finally:
        server.store.before_ref_update = None
    assert api.list_repo_refs(repo) == before  # no stage-1 branch, no tag, main unchanged
    done = push_stage(run_dir / "stage-1", repo, 1, endpoint=url, run_dir=run_dir)
    assert done["changed"] and done["main_moved"]


def test_push_command_never_prints_the_token(hub, tmp_path, capsys):
    run_dir, server, url, results = hub
    secret = "hf_do-not-print-me"
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("checkpoints", "data", "tracking"))
    assert main(["push", str(copy), "--repo-id", "growclip/cli", "--endpoint", url, "--token", secret]) == 0
    out = capsys.readouterr()
    assert "stage 1: branch stage-1" in out.out and "main moved" in out.out
    assert secret not in out.out + out.err
    assert not any(secret.encode() in p.read_bytes() for p in server.store.root.rglob("*") if p.is_file())
    assert main(["push", str(tmp_path / "missing"), "--repo-id", "growclip/cli", "--endpoint", url]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_push_command_reaches_a_local_hub_offline_and_refuses_the_internet_in_one_line(hub, tmp_path):
    run_dir, _, url, _ = hub
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    command = [sys.executable, "-m", "growclip_hf.cli", "push", str(run_dir), "--repo-id", "growclip/offline"]
    local = subprocess.run([*command, "--endpoint", url], env=env, capture_output=True, text=True, timeout=300)
    assert local.returncode == 0 and "stage 1: branch stage-1" in local.stdout, local.stderr[-2000:]
    remote = subprocess.run(
        [*command, "--endpoint", "https://hub.example.invalid"], env=env, capture_output=True, text=True, timeout=300
    )
    assert remote.returncode == 2 and "Traceback" not in remote.stderr and "retry" not in remote.stderr
    assert remote.stderr.strip() == "error: HF_HUB_OFFLINE is set; unset it to push to https://hub.example.invalid."
