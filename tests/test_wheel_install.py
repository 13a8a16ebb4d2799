"""The package as a user installs it: the built wheel, non-editable, in a fresh virtual environment, run from a folder
outside the checkout. Catches files that only a source tree has (card template, Space) and undeclared dependencies."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .run_helpers import git_refs

REPO = Path(__file__).resolve().parents[1]
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")
SHIPPED = (
    "growclip_hf/hub/resources/modeling_cards/growclip_stage.md.jinja",
    "growclip_hf/hub/resources/spaces_demo/app.py",
    "growclip_hf/hub/resources/spaces_demo/README.md",
    "growclip_hf/hub/resources/spaces_demo/requirements.txt",
    "growclip_hf/models/growclip/modeling_growclip.py",
)


def _run(command: list, cwd: Path, timeout: int = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _build_wheel(dist: Path) -> Path:
    """``pip wheel`` without build isolation: the build backend (setuptools) is already in the test environment."""
    result = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(REPO)],
        REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = dist.glob("growclip_hf-*.whl")
    return wheel


def _user_env(home: Path) -> dict:
    """A user's shell: offline Hub, nothing of the checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        HF_HOME=str(home / "hf_home"),
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        GRADIO_ANALYTICS_ENABLED="False",
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


@pytest.mark.timeout(1500)
def test_wheel_runs_the_small_job_outside_the_checkout(tmp_path):
    wheel = _build_wheel(tmp_path / "dist")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names, sorted(set(SHIPPED) - names)

    venv, work = tmp_path / "fresh-venv", tmp_path / "user"
    work.mkdir()
    base_python = getattr(sys, "_base_executable", None) or shutil.which("python3")
    assert _run([base_python, "-m", "venv", str(venv)], tmp_path).returncode == 0
    pip, env = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"], _user_env(tmp_path)
    result = _run([*pip, TORCH_SPEC], work, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    result = _run([*pip, str(wheel)], work, env=env)  # core dependencies only
    assert result.returncode == 0, result.stderr[-3000:]

    where = _run([str(venv / "bin" / "python"), "-c", "import growclip_hf; print(growclip_hf.__file__)"], work, env=env)
    assert where.returncode == 0, where.stderr[-3000:]
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    # The embedded benchmark's image sources are an extra: the command says what to install, in one line.
    cli = str(venv / "bin" / "growclip-hf")
    missing = _run([cli, "data", "build", "--scale", "small", "--out", "data"], work, env=env)
    assert missing.returncode == 2, missing.stdout + missing.stderr
    assert "pip install 'growclip-hf[benchmark]'" in missing.stderr and "Traceback" not in missing.stderr
    assert not (work / "data").exists() or not any((work / "data").rglob("*.parquet"))

    result = _run([*pip, f"{wheel}[benchmark]"], work, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    # One stage: what a source tree alone has (card template, Space files) is all used by its publish; growth and
    # later stages are the same code, covered in place by the rest of the suite.
    run = _run([cli, "run", "--scale", "small", "--stages", "1", "--output-dir", "run"], work, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    out = work / "run"
    assert "## Stages" in (out / "report.md").read_text()
    repo = out / "hub" / "models" / "local" / "growclip"
    assert {"stage-0", "stage-0-v1"} <= git_refs(repo)
    listing = _run(["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only", "stage-0"], work)
    files = set(listing.stdout.split())
    assert {"README.md", "model.safetensors", "spaces_demo/app.py", "spaces_demo/README.md"} <= files, files
    card = _run(["git", "--git-dir", str(repo), "show", "stage-0:README.md"], work).stdout
    assert card.startswith("---") and "growclip" in card
