"""The user's journey: a CLIP checkpoint saved by transformers (with a CLIP tokenizer built locally), continued for
2 stages with growth on chunks streamed from a dataset repository of the local Hub, under 2 processes, publishing
both stages; the checkpoint's tokenizer is kept and stage 0 starts at exactly its function."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import HfApi
from PIL import Image
from transformers import AutoProcessor, AutoTokenizer

from growclip_hf.hub import start_server
from growclip_hf.hub.loopback import local_hub_env, loopback_hub
from growclip_hf.stages.launch import build_run
from growclip_hf.stages.pretrained import PretrainedError, load_pretrained

from .clip_checkpoint import write_clip_checkpoint
from .run_helpers import cli_env, git_refs, launch_failure
from .stream_helpers import write_yearly_stream


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip") / "clip-legacy"
    write_clip_checkpoint(folder)
    return folder


def _inputs(processor):
    images = [Image.new("RGB", (40, 36), colour) for colour in ("red", "navy", "olive")]
    texts = ["a photo of the cat", "on", "a very long caption " * 8]  # the last is cut to the position table
    return processor(text=texts, images=images, return_tensors="pt", padding=True, truncation=True, max_length=16)


def test_stage_zero_starts_at_the_checkpoint_with_its_tokenizer(clip_dir, tmp_path):
    from transformers import CLIPModel

    settings = {
        "model": {"pretrained": str(clip_dir)},
        "training": {"batch_size": 8, "steps_per_stage": 1, "tracker": None},
        "data": {
            "chunks": [{"source": str(write_yearly_stream(tmp_path / "s", per_year=24)), "data_dir": "2021"}],
            "image_column": "jpg",
            "text_column": "txt",
            "heldout_fraction": 0.25,
        },
    }
    run = build_run(settings, tmp_path / "run")
    model, clip = run.trainer.unwrapped_model.eval(), CLIPModel.from_pretrained(clip_dir).eval()
    inputs = _inputs(AutoProcessor.from_pretrained(clip_dir))
    with torch.no_grad():
        assert (model(**inputs).logits_per_image - clip(**inputs).logits_per_image).abs().max() <= 1e-5
    assert not (tmp_path / "run" / "tokenizer").exists()  # no tokenizer was trained
    assert run.plan.context_length == 16  # the position table, not the tokenizer's unset model_max_length
    assert run.processor.tokenizer.get_vocab() == AutoTokenizer.from_pretrained(clip_dir).get_vocab()


def test_a_checkpoint_whose_processor_does_not_fit_is_refused(clip_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(clip_dir, broken)
    config = json.loads((broken / "preprocessor_config.json").read_text())
    config["crop_size"] = {"height": 64, "width": 64}
    (broken / "preprocessor_config.json").write_text(json.dumps(config))
    with pytest.raises(PretrainedError, match="64 px images but the model reads 32 px"):
        load_pretrained(str(broken))


def _upload_stream(url: str, root: Path, repo_id: str) -> None:
    with loopback_hub(url):
        api = HfApi(endpoint=url)
        api.create_repo(repo_id, repo_type="dataset")
        api.upload_folder(repo_id=repo_id, repo_type="dataset", folder_path=str(root))


@pytest.mark.timeout(900)
def test_two_processes_continue_a_clip_checkpoint_on_a_hub_dataset(clip_dir, tmp_path):
    url, stop = start_server(tmp_path / "hub", host="127.0.0.1", port=0)
    try:
        _upload_stream(url, write_yearly_stream(tmp_path / "stream", per_year=64, shards=2), "org/fashion-years")
        settings = {
            "model": {"pretrained": str(clip_dir)},
            "training": {
                "batch_size": 8,
                "steps_per_stage": 4,
                "checkpoint_every": 4,
                "log_every": 1,
                "warmup_steps": 1,
                "learning_rate": 1e-4,
                "tracker": None,
            },
            "growth": {"policy": "schedule", "schedule": [{"vision_config": {"num_hidden_layers": 3}}]},
            "data": {
                "chunks": [
                    {"name": str(year), "source": "org/fashion-years", "data_dir": str(year), "size": 60}
                    for year in (2021, 2022)
                ],
                "image_column": "jpg",
                "text_column": "txt",
                "heldout_fraction": 0.1,
                "heldout_pairs": 16,
            },
        }
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump(settings))
        accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
        launcher = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
        launcher += ["--mixed_precision", "no", "--dynamo_backend", "no", "-m", "growclip_hf.cli"]
        env = cli_env(tmp_path) | local_hub_env(url) | {"ACCELERATE_USE_CPU": "true"}
        command = launcher + ["train", str(config), "--output-dir", str(tmp_path / "run")]
        command += ["--push-to", "org/clip-stream", "--hub-endpoint", url]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=800)
        assert result.returncode == 0, launch_failure(result.stderr)
    finally:
        stop()
    out = tmp_path / "run"
    records = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert records[0]["samples_seen"] == 16  # 2 processes x 8
    original = AutoTokenizer.from_pretrained(clip_dir)
    for stage in (0, 1):
        kept = AutoTokenizer.from_pretrained(out / f"stage-{stage}")
        assert kept.get_vocab() == original.get_vocab() and type(kept).__name__ == "CLIPTokenizer"
    grown = json.loads((out / "stage-1" / "config.json").read_text())
    assert grown["vision_config"]["num_hidden_layers"] == 3 and grown["model_type"] == "growclip"
    repo = tmp_path / "hub" / "models" / "org" / "clip-stream"
    assert {"stage-0", "stage-1", "stage-0-v1", "stage-1-v1"} <= git_refs(repo)
    files = subprocess.run(
        ["git", "--git-dir", str(repo), "ls-tree", "-r", "--name-only", "stage-1"], capture_output=True, text=True
    ).stdout.split()
    assert {"model.safetensors", "tokenizer.json", "README.md"} <= set(files)
    assert {"processor_config.json", "preprocessor_config.json"} & set(files)  # the image processor travels too


def _one_line_failure(result) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


def test_bad_checkpoints_and_revisions_stop_before_training_in_one_line(clip_dir, tmp_path):
    from transformers import BertConfig

    BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2).save_pretrained(
        tmp_path / "bert"
    )
    stream = write_yearly_stream(tmp_path / "stream", per_year=24)
    data = {"chunks": [{"source": str(stream), "data_dir": "2021"}], "image_column": "jpg", "text_column": "txt"}
    data["heldout_fraction"] = 0.25
    config = tmp_path / "bert.yaml"
    config.write_text(yaml.safe_dump({"model": {"pretrained": str(tmp_path / "bert")}, "data": data}))
    line = _one_line_failure(
        subprocess.run(
            [sys.executable, "-m", "growclip_hf.cli", "train", str(config)],
            env=cli_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=300,
        )
    )
    assert "bert" in line and "clip" in line.lower()

    url, stop = start_server(tmp_path / "hub", host="127.0.0.1", port=0)
    try:
        _upload_stream(url, stream, "org/years")
        hub_data = {**data, "chunks": [{"source": "org/years", "data_dir": "2021", "revision": "v9"}]}
        config.write_text(yaml.safe_dump({"model": {"pretrained": str(clip_dir)}, "data": hub_data}))
        result = subprocess.run(
            [sys.executable, "-m", "growclip_hf.cli", "train", str(config), "--output-dir", str(tmp_path / "r")],
            env=cli_env(tmp_path) | local_hub_env(url),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stop()
    line = _one_line_failure(result)
    assert "v9" in line and "org/years" in line
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_growing_a_converted_clip_preserves_its_function(clip_dir):
    from transformers import CLIPModel

    from growclip_hf import GrowCLIPModel

    clip, model = CLIPModel.from_pretrained(clip_dir).eval(), GrowCLIPModel.from_pretrained(clip_dir).eval()
    target = {
        "vision_config": {"num_hidden_layers": 3, "hidden_size": 48},
        "text_config": {"num_hidden_layers": 3, "intermediate_size": 128},
        "shared_config": {"num_hidden_layers": 1},
        "projection_dim": 32,
    }
    grown = model.grow(target, init="preserve", seed=0).eval()
    assert grown.config.text_config.pooling == model.config.text_config.pooling == "highest_id"
    inputs = _inputs(AutoProcessor.from_pretrained(clip_dir))
    with torch.no_grad():
        difference = (grown(**inputs).logits_per_image - clip(**inputs).logits_per_image).abs().max().item()
    assert difference <= 1e-5, difference  # measured 9.5e-7
    assert sum(p.numel() for p in grown.parameters()) > sum(p.numel() for p in model.parameters())
