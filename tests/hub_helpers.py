"""Shared by the Hub tests: huggingface_hub switched online for loopback only, and one small real run per session."""

import functools
import socket
from pathlib import Path

import huggingface_hub.constants as hub_constants

from .run_helpers import growclip


def allow_loopback_hub(monkeypatch, endpoint: str) -> None:
    """conftest sets HF_HUB_OFFLINE=1; huggingface_hub read it at import, so patch the constants it consults."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(hub_constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(
        hub_constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )


@functools.cache
def small_run(base: Path) -> Path:
    """``growclip-hf run --scale small --stages 2`` that grows the vision tower at stage 1 (two distinct stages)."""
    out = base / "hub-run"
    command = ["run", "--scale", "small", "--stages", "2", "--policy", "schedule", "--output-dir", str(out)]
    growth = '--set=growth.schedule=[{"vision_config": {"num_hidden_layers": 3}}]'
    result = growclip([*command, growth], base)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
