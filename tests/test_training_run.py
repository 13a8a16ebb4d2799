"""End to end on the real (small) embedded stream: the main job, growth decisions, kill-and-resume, 2 processes."""

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoProcessor

from growclip_hf.data.benchmark.builder import build_benchmark

from .run_helpers import cli_env, git_refs, growclip, write_train_config


@pytest.fixture(scope="module")
def small_benchmark(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmark")
    build_benchmark(folder, scale="small", seed=0)
    return folder


def test_main_job_searches_at_every_boundary_and_reports(tmp_path, small_benchmark):
    out = tmp_path / "run"
    result = growclip(
        ["run", "--scale", "small", "--stages", "3", "--output-dir", str(out), "--data-dir", str(small_benchmark)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "| stage | architecture |" in result.stdout
    decisions = [json.loads(line) for line in (out / "growth_log.jsonl").read_text().splitlines()]
    assert [(d["policy"], d["stage"]) for d in decisions] == [("auto", 1), ("auto", 2)]
    for decision in decisions:
        search = decision["search"]  # the small preset: successive halving within 15 %, proxy steps of 4 pairs
        assert search["method"] == "halving" and search["candidates"][0]["name"] == "keep"
        assert search["pairs_per_step"] == 4
        assert 0 < search["search_fraction"] <= search["search_bound"] == 0.15  # the log shows the bound held
        # stages of 9-12 steps of 32 pairs: 15 % of them buy keep and at least 2 growth candidates
        scored = [s["name"] for s in search["rounds"][0]["scores"]]
        assert scored[0] == "keep" and len(scored) >= 3, search
        assert all("heldout_loss" in s for s in search["rounds"][0]["scores"])
        assert f"growth before stage {decision['stage']} (auto): {decision['choice']}" in result.stdout
    for stage in (0, 1):
        model = AutoModel.from_pretrained(out / f"stage-{stage}")
        AutoProcessor.from_pretrained(out / f"stage-{stage}")
        info = json.loads((out / f"stage-{stage}" / "stage_info.json").read_text())
        assert info["samples_seen"] > 0 and info["parameters"] == sum(p.numel() for p in model.parameters())
    for decision in decisions:
        if decision["target"]:
            grown = AutoModel.from_pretrained(out / f"stage-{decision['stage']}")
            assert grown.config.growth_history[-1]["stage"] == decision["stage"]
            assert grown.config.growth_history[-1]["policy"] == "auto"
    report = (out / "report.md").read_text()
    assert "## Stages" in report and "chance" in report and (out / "zeroshot_top1_matrix.png").exists()
    for decision in decisions:  # the report states each decision's spend
        spent = f"{100 * decision['search']['search_fraction']:.1f}% of the stage's compute"
        assert f"before stage {decision['stage']}: {decision['choice']} (auto; search {spent})" in report
    # every stage is a revision of the local Hub in OUT/hub (branch, tag, its own model card and weights)
    repo = out / "hub" / "models" / "local" / "growclip"
    assert {"main", "stage-0", "stage-1", "stage-0-v1", "stage-1-v1"} <= git_refs(repo)
    files = subprocess.run(
        ["git", "--git-dir", str(repo), "ls-tree", "--name-only", "stage-1"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert {"model.safetensors", "README.md", "config.json", "modeling_growclip.py"} <= set(files)


def test_each_stage_is_pushed_when_it_ends(tmp_path, small_benchmark):
    from growclip_hf.hub import start_server

    url, stop = start_server(tmp_path / "hub", host="127.0.0.1", port=0)
    try:
        config = write_train_config(tmp_path / "p.yaml", small_benchmark / "manifest.json", tmp_path / "run")
        result = growclip(["train", str(config), "--push-to", "org/stream", "--hub-endpoint", url], tmp_path)
    finally:
        stop()
    assert result.returncode == 0, result.stderr[-4000:]
    pushed = [json.loads(line) for line in (tmp_path / "run" / "publish_log.jsonl").read_text().splitlines()]
    assert [record["stage"] for record in pushed] == [0, 1]
    repo = tmp_path / "hub" / "models" / "org" / "stream"
    assert {"stage-0", "stage-1", "main"} <= git_refs(repo)


def test_existing_run_is_not_overwritten_without_resume(tmp_path, small_benchmark):
    config = write_train_config(tmp_path / "config.yaml", small_benchmark / "manifest.json", tmp_path / "run")
    first = growclip(["train", str(config), "--set", "data.max_stages=1", "--no-report"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    # --no-report trains and saves the stages, but evaluates nothing
    assert (tmp_path / "run" / "stage-0" / "model.safetensors").is_file()
    assert not (tmp_path / "run" / "report.md").exists() and not (tmp_path / "run" / "eval_results.json").exists()
    again = growclip(["train", str(config), "--set", "data.max_stages=1"], tmp_path)
    assert again.returncode != 0 and "--resume" in again.stderr


def _final_weights(folder):
    return load_file(folder / "stage-1" / "model.safetensors")


# seqf (no strategy state) is killed and resumed at four points in test_kill_anywhere.py
@pytest.mark.parametrize("strategy", ["ctp", "modx"])
def test_sigkill_and_resume_matches_an_uninterrupted_run(tmp_path, small_benchmark, strategy):
    """Model, optimizer, data position and strategy state (CTP queues and momentum model, Mod-X old model)."""
    manifest = small_benchmark / "manifest.json"
    reference_config = write_train_config(tmp_path / "a.yaml", manifest, tmp_path / "uninterrupted", strategy)
    reference_run = growclip(["train", str(reference_config), "--no-report"], tmp_path)
    assert reference_run.returncode == 0, reference_run.stderr[-3000:]

    killed_config = write_train_config(tmp_path / "b.yaml", manifest, tmp_path / "killed", strategy)
    process = subprocess.Popen(
        [sys.executable, "-m", "growclip_hf.cli", "train", str(killed_config)],
        env=cli_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = tmp_path / "killed" / "train_log.jsonl"
    deadline = time.time() + 300
    killed_at = None
    while time.time() < deadline and process.poll() is None:
        if log.exists():
            steps = [json.loads(line)["step"] for line in log.read_text().splitlines() if line.strip()]
            if steps and steps[-1] >= 17:  # stage 1 (after growth), between two checkpoints
                process.send_signal(signal.SIGKILL)
                killed_at = steps[-1]
                break
        time.sleep(0.05)
    process.wait(timeout=60)
    assert killed_at is not None, "the run ended before it could be killed"
    assert not (tmp_path / "killed" / "stage-1").exists()

    resumed = growclip(["train", str(killed_config), "--resume", "--no-report"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    reference, result = _final_weights(tmp_path / "uninterrupted"), _final_weights(tmp_path / "killed")
    assert reference.keys() == result.keys()
    worst = max((reference[k] - result[k]).abs().max().item() for k in reference)
    assert worst <= 1e-6
    assert "text_model.encoder.layers.1.mlp.fc1.weight" in result  # the growth happened before the kill


# The strategies with state or data of their own across processes: ER's reservoir, JointT's union of chunks, CTP's
# queue and momentum model. Every strategy's step on two processes is checked against one process in
# test_continual_distributed.py (gradients, in one launch); seqf and Mod-X add no per-process state to a run.
@pytest.mark.parametrize("strategy", ["jointt", "er", "ctp"])
def test_two_processes_with_accelerate_launch(tmp_path, small_benchmark, strategy):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    config = write_train_config(
        tmp_path / "c.yaml",
        small_benchmark / "manifest.json",
        tmp_path / "ddp",
        strategy,
        steps_per_stage=6,
        batch_size=8,
    )
    launcher = [
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "-m",
        "growclip_hf.cli",
    ]
    env_result = subprocess.run(
        launcher + ["train", str(config)],
        env={**cli_env(tmp_path), "ACCELERATE_USE_CPU": "true"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert env_result.returncode == 0, env_result.stderr[-4000:]
    out = tmp_path / "ddp"
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    # two processes x 8 pairs per step: the global batch is 16
    assert records[0]["samples_seen"] == 16
    checkpoint = sorted((out / "checkpoints").iterdir())[-1]
    assert (checkpoint / "rank_state_0.json").exists() and (checkpoint / "rank_state_1.json").exists()
    grown = AutoModel.from_pretrained(out / "stage-1")
    assert grown.config.text_config.hidden_size == 48
    assert torch.isfinite(torch.cat([p.flatten() for p in grown.parameters()])).all()
