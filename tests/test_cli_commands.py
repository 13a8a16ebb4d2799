"""The growclip-hf commands: help at every level, grow, and the errors that say what to fix."""

import json

import pytest
import torch

from growclip_hf import GrowCLIPModel, build_processor, train_tokenizer
from growclip_hf.cli import build_parser

from .helpers import perturb_, tiny_config
from .run_helpers import growclip


@pytest.mark.parametrize("command", [[], ["run"], ["train"], ["grow"], ["eval"], ["data"], ["data", "build"]])
def test_help_at_every_level(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: growclip-hf" in capsys.readouterr().out


def test_grow_command_grows_a_saved_model_with_its_processor(tmp_path):
    tokenizer = train_tokenizer(["a red circle", "a blue square"] * 5, vocab_size=300)
    config = tiny_config(text_config={"vocab_size": len(tokenizer), "max_position_embeddings": 16})
    torch.manual_seed(0)
    perturb_(GrowCLIPModel(config)).save_pretrained(tmp_path / "model")
    build_processor(config, tokenizer).save_pretrained(tmp_path / "model")
    target = json.dumps({"vision_config": {"num_hidden_layers": 3}, "projection_dim": 32})
    result = growclip(
        ["grow", str(tmp_path / "model"), "--target", target, "--output-dir", str(tmp_path / "grown")], tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["changes"] == ["vision_config.num_hidden_layers: 2 -> 3", "projection_dim: 24 -> 32"]
    grown = GrowCLIPModel.from_pretrained(tmp_path / "grown")
    assert grown.config.vision_config.num_hidden_layers == 3
    assert (tmp_path / "grown" / "tokenizer.json").exists()


def test_grow_command_explains_bad_targets(tmp_path):
    torch.manual_seed(0)
    GrowCLIPModel(tiny_config()).save_pretrained(tmp_path / "model")
    not_json = growclip(["grow", str(tmp_path / "model"), "--target", "{oops", "--output-dir", "x"], tmp_path)
    assert not_json.returncode != 0 and "must be JSON" in not_json.stderr
    smaller = growclip(
        ["grow", str(tmp_path / "model"), "--target", '{"projection_dim": 8}', "--output-dir", "x"], tmp_path
    )
    assert smaller.returncode != 0 and "projection_dim=8 is smaller" in smaller.stderr


def test_train_command_rejects_unknown_sections_and_bad_overrides(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[training]\nbatch_szie = 4\n[data]\nmanifest = "m.json"\n')
    unknown = growclip(["train", str(config)], tmp_path)  # one line, no traceback (sections: test_settings_check.py)
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert (
        unknown.stderr.strip()
        == "growclip-hf train: unknown setting training.batch_szie; did you mean training.batch_size?"
    )
    config.write_text('[data]\nmanifest = "m.json"\n')
    override = growclip(["train", str(config), "--set", "batch_size=4"], tmp_path)
    assert override.returncode != 0 and "section.key=value" in override.stderr
