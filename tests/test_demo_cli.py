"""The two ways to serve the demo, as real processes: ``growclip-hf demo --run-dir`` and the Space's ``python app.py``
(pointed at one stage folder through GROWCLIP_DEMO_MODEL), each answering a classification over HTTP."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from growclip_hf.demo.sources import source_from_environment

from .run_helpers import cli_env, free_port, small_run

SPACE_APP = Path(__file__).resolve().parents[1] / "spaces_demo" / "app.py"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return small_run(tmp_path_factory.getbasetemp())


def wait_for_client(url: str, process: subprocess.Popen, timeout: float = 90) -> Client:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"The demo exited early: {process.stderr.read()[-3000:]}")
        try:
            return Client(url, verbose=False)
        except Exception:
            time.sleep(0.5)
    raise AssertionError(f"The demo did not answer at {url} within {timeout} s.")


def classify_through(command: list[str], env: dict, port: int, image: Path, stage: str) -> tuple[dict, str | None]:
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        client = wait_for_client(f"http://127.0.0.1:{port}/", process)
        left, _, summary = client.predict(
            handle_file(str(image)), "dress, sneaker", "{}", stage, stage, api_name="/classify"
        )
        assert stage in summary
        gallery_error = None
        try:
            client.predict("a dress", 3, stage, stage, api_name="/text_to_image")
        except AppError as error:
            gallery_error = str(error)
        return left, gallery_error
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_cli_serves_the_run_folder(run_dir, tmp_path):
    image = tmp_path / "grey.png"
    Image.new("RGB", (64, 64), "grey").save(image)
    port = free_port()
    command = [sys.executable, "-m", "growclip_hf.cli", "demo", "--run-dir", str(run_dir), "--port", str(port)]
    result, gallery_error = classify_through(command, cli_env(tmp_path), port, image, "stage-1")
    assert {item["label"] for item in result["confidences"]} == {"dress", "sneaker"}
    assert gallery_error is None  # the run folder's manifest gives the retrieval gallery


def test_space_app_serves_the_model_it_is_pointed_at(run_dir, tmp_path):
    image = tmp_path / "grey.png"
    Image.new("RGB", (64, 64), "grey").save(image)
    port = free_port()
    env = {
        **cli_env(tmp_path),
        "GROWCLIP_DEMO_MODEL": str(run_dir / "stage-1"),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
    }
    result, gallery_error = classify_through([sys.executable, str(SPACE_APP)], env, port, image, "stage-1")
    assert abs(sum(item["confidence"] for item in result["confidences"]) - 1) < 1e-5
    assert "no gallery of held-out images" in gallery_error  # a lone model folder has no benchmark manifest


def test_space_finds_the_model_it_sits_next_to(run_dir, tmp_path, monkeypatch):
    for name in ("GROWCLIP_DEMO_REPO_ID", "GROWCLIP_DEMO_MODEL", "GROWCLIP_DEMO_MANIFEST"):
        monkeypatch.delenv(name, raising=False)
    source = source_from_environment(run_dir / "stage-1")  # a stage revision holds the model and the app files
    assert source.stage_names == ["stage-1"] and source.folder("stage-1") == run_dir / "stage-1"
    assert source_from_environment(run_dir / "spaces_demo").stage_names == ["stage-0", "stage-1"]
    space = shutil.copytree(run_dir / "stage-1", tmp_path / "my-space")  # a Space folder is named after the Space
    assert source_from_environment(space).stage_names == ["stage-1"]  # named from its stage_info.json
    with pytest.raises(FileNotFoundError, match="GROWCLIP_DEMO_REPO_ID"):
        source_from_environment(tmp_path / "empty" / "app")
