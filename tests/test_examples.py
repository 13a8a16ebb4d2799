"""The ready configs in examples/ are valid: every section and key is known, and each defines its stream."""

from pathlib import Path

import pytest

from growclip_hf.continual import build_strategy
from growclip_hf.stages.launch import SECTIONS, build_policy
from growclip_hf.stages.stream_plan import stream_chunks
from growclip_hf.training.config import TrainingConfig, read_settings_file

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def test_there_is_an_example_per_source_kind():
    sources = {}
    for path in EXAMPLES:
        data = read_settings_file(path)["data"]
        for chunk in data.get("chunks", []) + ([data["stream"]] if "stream" in data else []):
            sources[path.name] = chunk["source"]
    kinds = {
        "hub": any("/" in s and not s.startswith("path/") for s in sources.values()),
        "parquet": any(s.endswith(".parquet") for s in sources.values()),
        "webdataset": any(s.endswith(".tar") for s in sources.values()),
        "imagefolder": any(s.startswith("path/") and "." not in Path(s).name for s in sources.values()),
    }
    assert all(kinds.values()), kinds


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_is_valid(path):
    settings = read_settings_file(path)
    assert set(settings) <= set(SECTIONS)
    chunks = stream_chunks(settings["data"])
    assert chunks and all(chunk.train.source and chunk.heldout.source for chunk in chunks)
    TrainingConfig.from_dict(settings["training"])
    build_policy(settings.get("growth", {}))
    options = dict(settings.get("continual", {}))
    build_strategy(options.pop("strategy", "seqf"), **options)
