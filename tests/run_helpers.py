"""Helpers for end-to-end run tests: a small benchmark built once per session, and CLI runs in subprocesses."""

import functools
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}


def cli_env(tmp_path: Path) -> dict:
    return {
        **os.environ,
        "HF_HOME": str(tmp_path / "hf_home"),
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


def growclip(args: list[str], tmp_path: Path, timeout: int = 600, launcher: list[str] | None = None):
    command = (launcher or [sys.executable, "-m", "growclip_hf.cli"]) + args
    return subprocess.run(command, env=cli_env(tmp_path), capture_output=True, text=True, timeout=timeout)


def write_train_config(path: Path, manifest: Path, output_dir: Path, strategy: str = "seqf", **training) -> Path:
    settings = {
        "model": {
            "text_config": {**TINY_TOWER, "max_position_embeddings": 32},
            "vision_config": {**TINY_TOWER, "image_size": 64, "patch_size": 16},
            "projection_dim": 32,
        },
        "tokenizer": {"vocab_size": 512, "context_length": 32},
        "training": {
            "output_dir": str(output_dir),
            "batch_size": 16,
            "steps_per_stage": 12,
            "checkpoint_every": 5,
            "log_every": 1,
            "warmup_steps": 2,
            "ramp_steps": 4,
            **training,
        },
        "growth": {
            "policy": "schedule",
            "schedule": [{"text_config": {"hidden_size": 48, "num_hidden_layers": 2}, "projection_dim": 40}],
        },
        "data": {"manifest": str(manifest), "max_stages": 2, "shuffle_buffer": 64},
        "continual": {"strategy": strategy, **({"queue_size": 64} if strategy == "ctp" else {})},
    }
    path.write_text(yaml.safe_dump(settings))
    return path


@functools.cache
def small_run(base: Path) -> Path:
    """``growclip-hf run --scale small --stages 2`` growing the vision tower at stage 1 (two distinct stages), built
    once per base folder (~10 s) and shared by the Hub and demo tests."""
    out = base / "small-run"
    command = ["run", "--scale", "small", "--stages", "2", "--policy", "schedule", "--output-dir", str(out)]
    growth = '--set=growth.schedule=[{"vision_config": {"num_hidden_layers": 3}}]'
    result = growclip([*command, growth], base)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def git_refs(repo: Path) -> set[str]:
    """Short names of the branches and tags of the git repository ``repo`` (a bare repo of the local Hub)."""
    listing = subprocess.run(
        ["git", "--git-dir", str(repo), "for-each-ref", "--format=%(refname:short)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listing.stdout.split())


def launch_failure(stderr: str, tail: int = 3000) -> str:
    """What a failed multi-process launch says: every rank's own lines first (a crashed worker's error is often far
    from the end, where the launcher's traceback sits), then the tail."""
    own = [line for line in stderr.splitlines() if line.startswith("[rank") or "Error" in line or "Exception" in line]
    return "\n".join(own)[-tail:] + "\n--- tail ---\n" + stderr[-tail:]
