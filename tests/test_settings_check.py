"""Settings are checked before a run starts: a typo in any section is one line naming the key and its nearest known
spelling, and ``--resume`` refuses settings that differ from the run's record unless a resumable change is named."""

import json
import subprocess
import sys

import pytest
import yaml

from growclip_hf.stages.launch import build_run
from growclip_hf.stages.settings_check import SettingsError, check_resume, check_settings, settings_changes

from .run_helpers import cli_env
from .stream_helpers import tiny_stream_settings, write_yearly_stream

TYPOS = [
    ({"trainig": {}}, "unknown section trainig; did you mean training?"),
    ({"training": {"batch_szie": 8}}, "training.batch_szie; did you mean training.batch_size?"),
    ({"model": {"vision_config": {"hidden_szie": 8}}}, "model.vision_config.hidden_szie; did you mean"),
    ({"model": {"projection_dims": 8}}, "model.projection_dims; did you mean model.projection_dim?"),
    ({"tokenizer": {"vocab_sise": 300}}, "tokenizer.vocab_sise; did you mean tokenizer.vocab_size?"),
    ({"growth": {"polcy": "auto"}}, "growth.polcy; did you mean growth.policy?"),
    ({"growth": {"space": {"depth_stpe": 1}}}, "growth.space.depth_stpe; did you mean growth.space.depth_step?"),
    (
        {"growth": {"schedule": [{"text_config": {"num_hidden_layer": 2}}]}},
        "growth.schedule[0].text_config.num_hidden_layer; did you mean",
    ),
    ({"data": {"heldout_fractoin": 0.1}}, "data.heldout_fractoin; did you mean data.heldout_fraction?"),
    ({"data": {"chunks": [{"sorce": "x"}]}}, "data.chunks[0].sorce; did you mean data.chunks[0].source?"),
    ({"data": {"stream": {"source": "x", "evrey": 5}}}, "data.stream.evrey; did you mean data.stream.every?"),
    ({"continual": {"strategy": "ctp", "queue_sise": 64}}, "continual.queue_sise; did you mean continual.queue_size?"),
    ({"evaluation": {"zeroshots": []}}, "evaluation.zeroshots; did you mean evaluation.zeroshot?"),
    ({"training": {"mixed_precision": "fp8"}}, "training: mixed_precision must be"),
    ({"growth": {"proxy_batch_size": 0}}, "growth.proxy_batch_size must be a whole number of pairs per proxy step"),
    ({"growth": {"proxy_batch_size": 1}}, "at least 2, got 1; set it to e.g. 8, or leave it out"),
    ({"growth": {"proxy_batch_size": "eight"}}, "growth.proxy_batch_size must be a whole number"),
]


@pytest.mark.parametrize("settings,message", TYPOS)
def test_a_typo_in_any_section_names_the_key_and_the_nearest_known_one(settings, message):
    with pytest.raises(SettingsError) as raised:
        check_settings(settings)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_every_shipped_preset_passes_the_check():
    from growclip_hf.stages.presets import PRESETS, preset

    for scale in PRESETS:
        check_settings(preset(scale))  # the check knows every key the product itself writes


def test_resume_changes_are_refused_unless_named_and_resumable():
    recorded = {"training": {"batch_size": 32, "output_dir": "a", "log_every": 1}, "data": {"max_stages": 2}}
    same = {**recorded, "training": {**recorded["training"], "output_dir": "moved"}}
    assert settings_changes(recorded, same) == {}  # the folder itself may move
    more = {**recorded, "data": {"max_stages": 3}}
    with pytest.raises(SettingsError, match=r"data.max_stages \(2 -> 3\); pass --allow-change data.max_stages"):
        check_resume(recorded, more)
    check_resume(recorded, more, allowed=("data.max_stages",))
    smaller = {**recorded, "training": {**recorded["training"], "batch_size": 16}}
    with pytest.raises(SettingsError, match="training.batch_size .*start a new --output-dir"):
        check_resume(recorded, smaller, allowed=("training.batch_size",))  # not a change a run can take


def _train(config, tmp_path, *extra):
    command = [sys.executable, "-m", "growclip_hf.cli", "train", str(config), "--no-report", *extra]
    return subprocess.run(command, env=cli_env(tmp_path), capture_output=True, text=True, timeout=600)


def _one_line(result) -> str:
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.timeout(600)
def test_train_refuses_a_changed_resume_in_one_line_and_keeps_the_record(tmp_path):
    settings = tiny_stream_settings(tmp_path / "run")
    stream = write_yearly_stream(tmp_path / "stream", per_year=32, shards=1)
    settings["training"] |= {"steps_per_stage": 2, "checkpoint_every": 2}
    settings["data"] = {"chunks": [{"source": str(stream), "data_dir": str(y)} for y in (2021, 2022)]}
    settings["data"] |= {"heldout_fraction": 0.2, "max_stages": 1}
    config = tmp_path / "config.yaml"
    # The first run in this process (no interpreter start-up), with the columns the CLI flags below give.
    build_run(
        {**settings, "data": {**settings["data"], "image_column": "jpg", "text_column": "txt"}}, tmp_path / "run"
    ).run()
    columns = ["--image-column", "jpg", "--text-column", "txt"]  # the flags the missing-column message suggests
    record = (tmp_path / "run" / "run_settings.json").read_text()
    assert json.loads(record)["training"]["output_dir"] == str(tmp_path / "run")

    changed = {**settings, "training": {**settings["training"], "batch_size": 8}, "growth": {"policy": "none"}}
    config.write_text(yaml.safe_dump(changed))
    line = _one_line(_train(config, tmp_path, *columns, "--resume"))
    assert "training.batch_size (16 -> 8)" in line and "growth.policy" in line and "column" not in line
    assert (tmp_path / "run" / "run_settings.json").read_text() == record  # a refused resume rewrites nothing

    more = {**settings, "data": {**settings["data"], "max_stages": 2}}
    config.write_text(yaml.safe_dump(more))
    resumed = _train(config, tmp_path, *columns, "--resume", "--allow-change", "data.max_stages")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from checkpoint 2 (stage 0, step 2)" in resumed.stdout
    assert (tmp_path / "run" / "stage-1" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "run" / "run_settings.json").read_text())["data"]["max_stages"] == 2
