"""The recipe that README and docs/results.md name as the default is the one `growclip-hf run` uses."""

import re
from pathlib import Path

import pytest

from growclip_hf import GrowCLIPConfig
from growclip_hf.stages.launch import build_policy
from growclip_hf.stages.presets import preset
from growclip_hf.training import TrainingConfig

ROOT = Path(__file__).resolve().parents[1]
RECIPE = re.compile(
    r"\*\*Default recipe\*\*[^:]*: (?P<policy>\w+) growth with (?P<init>\w+) initialisation"
    r"(?: \(momentum (?P<momentum>[\d.]+)\))?, from width (?P<width>\d+) to the whole model "
    r"(?P<factor>[\d.]+)x wider once "
    r"a chunk's budget trains it on (?P<ratio>[\d.]+) pairs per parameter, (?P<strategy>\w+) with a "
    r"(?P<reservoir>[\d,]+)-pair reservoir, (?P<budgets>[\d.]+(?:, [\d.]+)* and [\d.]+) TFLOP per chunk in "
    r"(?P<batch>\d+)-pair batches, learning rate (?P<lr>\d+(?:\.\d+)?(?:e-?\d+)?)"
)


def _named_recipe(path: Path) -> dict:
    found = RECIPE.search(" ".join(path.read_text(encoding="utf-8").split()))
    assert found, f"{path.name} no longer names the default recipe in the form this test reads"
    return found.groupdict()


@pytest.mark.parametrize("doc", ["README.md", "docs/results.md"])
def test_the_documented_default_recipe_is_the_preset(doc):
    named = _named_recipe(ROOT / doc)
    settings = preset("default")
    policy = build_policy(settings["growth"])
    assert named["policy"] == policy.name
    assert named["init"] == policy.search.init
    momentum = float(named["momentum"]) if named["momentum"] else None
    assert momentum == (policy.search.momentum if policy.search.init == "pim" else None)
    assert float(named["factor"]) == policy.space.model_width_factor
    assert float(named["ratio"]) == policy.pairs_per_parameter
    model = GrowCLIPConfig(**settings["model"])
    assert int(named["width"]) == model.vision_config.hidden_size == model.text_config.hidden_size
    assert named["strategy"].lower() == settings["continual"]["strategy"]
    assert int(named["reservoir"].replace(",", "")) == settings["data"]["reservoir_size"]
    budgets = [float(b) * 1e12 for b in re.split(r", | and ", named["budgets"])]
    training = TrainingConfig.from_dict(settings["training"])
    assert [training.stage_flops(k) for k in range(len(budgets))] == pytest.approx(budgets)
    assert int(named["batch"]) == training.batch_size
    assert float(named["lr"]) == training.learning_rate


def test_readme_and_results_name_the_same_recipe():
    assert _named_recipe(ROOT / "README.md") == _named_recipe(ROOT / "docs/results.md")
