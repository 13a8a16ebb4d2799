"""The recipe that README and docs/results.md name as the default is the one `growclip-hf run` uses."""

import re
from pathlib import Path

import pytest

from growclip_hf.growth.search import SearchSettings
from growclip_hf.stages.launch import build_policy
from growclip_hf.stages.presets import preset

ROOT = Path(__file__).resolve().parents[1]
RECIPE = re.compile(
    r"\*\*Default recipe\*\*[^:]*: (?P<policy>\w+) growth with (?P<init>\w+) initialisation"
    r"(?P<plateau>, searched (?P<halving>by successive halving )?only once the training loss plateaus)?, "
    r"(?P<strategy>\w+) with a "
    r"(?P<reservoir>[\d,]+)-pair reservoir, (?P<passes>[\d.]+) passes of (?P<batch>\d+)-pair batches per chunk, "
    r"learning rate (?P<lr>\d+(?:\.\d+)?(?:e-?\d+)?)"
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
    assert policy.trigger.name == ("plateau" if named["plateau"] else "every")
    assert policy.search.method == ("halving" if named["halving"] else "single")
    assert named["init"] == policy.search.init == SearchSettings().init
    assert named["strategy"].lower() == settings["continual"]["strategy"]
    assert int(named["reservoir"].replace(",", "")) == settings["data"]["reservoir_size"]
    assert float(named["passes"]) == settings["training"]["epochs_per_stage"]
    assert int(named["batch"]) == settings["training"]["batch_size"]
    assert float(named["lr"]) == settings["training"]["learning_rate"]


def test_readme_and_results_name_the_same_recipe():
    assert _named_recipe(ROOT / "README.md") == _named_recipe(ROOT / "docs/results.md")
