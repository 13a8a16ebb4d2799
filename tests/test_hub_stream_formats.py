"""Every format streamed from a dataset repository of the local Hub behaves as the same files read from disk.

One repository holds the same pairs as parquet shards, webdataset shards and an image folder (``metadata.jsonl``).
For each: a loader checkpointed mid-pass (its state through the checkpoint codec) resumes to exactly the
uninterrupted order, which is also the local copy's order; held-out pairs are one set whatever the source and the
process; a run over webdataset and image-folder chunks (a stage each) killed inside every stage and resumed ends with
the uninterrupted run's weights (parquet from the Hub: tests/test_kill_anywhere.py).
"""

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
import torch
import yaml
from huggingface_hub import HfApi
from safetensors.torch import load_file

from growclip_hf.data import SourceSpec, create_loader
from growclip_hf.data.selection import RowSelection
from growclip_hf.data.sharding import shard_for_process
from growclip_hf.data.sources import open_stream
from growclip_hf.demo.inference import load_gallery
from growclip_hf.demo.sources import local_source
from growclip_hf.hub import start_server
from growclip_hf.hub.loopback import local_hub_env, loopback_hub, use_local_hub
from growclip_hf.stages.launch import build_run
from growclip_hf.training import state_codec

from .data_helpers import FORMAT_WRITERS, tiny_processor
from .run_helpers import cli_env
from .stream_helpers import tiny_stream_settings

COUNT = 24
REPO = "org/formats"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """The three formats on disk (``local``) and uploaded to one dataset repository, a folder each."""
    base = tmp_path_factory.mktemp("hub-formats")
    local = {kind: write(base / "upload" / kind, COUNT) for kind, write in FORMAT_WRITERS.items()}
    url, stop = start_server(base / "root", host="127.0.0.1", port=0)
    with loopback_hub(url):
        api = HfApi(endpoint=url)
        api.create_repo(REPO, repo_type="dataset")
        api.upload_folder(repo_id=REPO, repo_type="dataset", folder_path=str(base / "upload"))
    yield SimpleNamespace(url=url, local=local)
    stop()


def _hub_spec(local: SourceSpec, kind: str) -> SourceSpec:
    return SourceSpec(REPO, image_column=local.image_column, text_column=local.text_column, data_dir=kind)


def _loader(spec: SourceSpec):
    return create_loader(spec, tiny_processor(), batch_size=5, num_workers=0, shuffle_buffer=8, seed=3)


def _samples(batches) -> list[tuple]:
    return [
        (tuple(ids[mask.bool()].tolist()), round(float(pixels.double().sum()), 3))
        for batch in batches
        for ids, mask, pixels in zip(batch["input_ids"], batch["attention_mask"], batch["pixel_values"], strict=True)
    ]


@pytest.mark.parametrize("kind", sorted(FORMAT_WRITERS))
def test_a_hub_stream_resumes_from_a_serialised_state_and_matches_its_local_copy(hub, kind):
    local = hub.local[kind]
    reference = _samples(_loader(local))
    assert len(set(reference)) == COUNT
    with use_local_hub(hub.url):
        spec = _hub_spec(local, kind)
        assert _samples(_loader(spec)) == reference  # the same pairs in the same order as from disk
        first = _loader(spec)
        iterator = iter(first)
        seen = _samples([next(iterator), next(iterator)])
        checkpoint = state_codec.dumps(first.state_dict())  # raised TypeError for decoded images before
        del iterator, first
        resumed = _loader(spec)
        resumed.load_state_dict(state_codec.loads(checkpoint))
        assert seen + _samples(resumed) == reference


def _pair_keys(spec: SourceSpec) -> list[str]:
    """Each pair as a digest of its image bytes and caption (what the held-out hash reads)."""
    keys = []
    for row in open_stream(spec):
        image = row[spec.image_column]
        keys.append(hashlib.sha1(image["bytes"] + row[spec.text_column].encode()).hexdigest())
    return keys


@pytest.mark.parametrize("kind", sorted(FORMAT_WRITERS))
def test_held_out_pairs_are_one_set_whatever_the_source_and_the_process(hub, kind):
    local = hub.local[kind]
    carve = RowSelection(heldout_fraction=0.3, seed=5)
    every = set(_pair_keys(local))
    with use_local_hub(hub.url):
        sources = {"local": local, "hub": _hub_spec(local, kind)}
        held = {
            name: set(_pair_keys(replace(spec, rows=replace(carve, heldout="only")))) for name, spec in sources.items()
        }
        train = {
            name: set(_pair_keys(replace(spec, rows=replace(carve, heldout="exclude"))))
            for name, spec in sources.items()
        }
        by_rank = set()
        for rank in (0, 1):
            stream = shard_for_process(
                open_stream(replace(sources["hub"], rows=replace(carve, heldout="only"))), rank, 2
            )
            by_rank |= {
                hashlib.sha1(r[local.image_column]["bytes"] + r[local.text_column].encode()).hexdigest() for r in stream
            }
    assert held["local"] == held["hub"] == by_rank
    assert train["local"] == train["hub"]
    assert 0 < len(held["hub"]) < COUNT and held["hub"].isdisjoint(train["hub"])
    assert held["hub"] | train["hub"] == every


def _train(config: Path, tmp_path: Path, url: str, resume: bool = False, kill: str | None = None):
    env = cli_env(tmp_path) | local_hub_env(url) | ({"GROWCLIP_KILL_AT": kill} if kill else {})
    command = [sys.executable, "-m", "growclip_hf.cli", "train", str(config), "--no-report"]
    return subprocess.run(command + (["--resume"] if resume else []), env=env, capture_output=True, text=True)


def _formats_run(tmp_path: Path, name: str, local: dict[str, SourceSpec]) -> Path:
    """A stage per format of ``RUN_FORMATS``, each chunk streamed from the repository (its own columns)."""
    settings = tiny_stream_settings(tmp_path / name)
    settings["training"] |= {"batch_size": 8, "steps_per_stage": 4, "checkpoint_every": 2}
    chunks = [
        {
            "name": kind,
            "source": REPO,
            "data_dir": kind,
            "image_column": spec.image_column,
            "text_column": spec.text_column,
        }
        for kind, spec in ((kind, local[kind]) for kind in RUN_FORMATS)
    ]
    settings["data"] = {"chunks": chunks, "heldout_fraction": 0.2, "shuffle_buffer": 16}
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump(settings))
    return config


def _held_out_pairs(run: Path) -> list[set]:
    """Each chunk's held-out pairs as the run wrote them for its evaluation."""
    chunks = []
    for folder in sorted((run / "data" / "eval" / "chunks").iterdir()):
        table = pq.read_table(next(folder.glob("test-*.parquet"))).to_pylist()
        chunks.append({hashlib.sha1(row["image"]["bytes"] + row["caption"].encode()).hexdigest() for row in table})
    return chunks


# Parquet from the Hub is killed and resumed in tests/test_kill_anywhere.py; here the other two formats, a stage each.
# Each kill lands two steps after the checkpoint inside its stage (checkpoints every 2 steps, 4 steps a stage; a
# resumed process counts its visits afresh).
RUN_FORMATS = ("webdataset", "imagefolder")
KILLS = ("stream:3", "stream:5")


def _train_here(config: Path, url: str, resume: bool = False) -> None:
    """The same run in this process (no interpreter start-up), on one thread like the CLI runs of ``cli_env``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with use_local_hub(url):
            settings = yaml.safe_load(config.read_text())
            build_run(settings, settings["training"]["output_dir"], resume=resume).run()
    finally:
        torch.set_num_threads(threads)


@pytest.mark.timeout(900)
def test_a_run_over_the_hub_formats_killed_in_each_stage_resumes_to_the_uninterrupted_weights(hub, tmp_path, capfd):
    _train_here(_formats_run(tmp_path, "reference", hub.local), hub.url)
    assert "Task was destroyed" not in capfd.readouterr().err  # datasets' asyncio decoding is not left half-run
    killed_config = _formats_run(tmp_path, "killed", hub.local)
    for attempt, kill in enumerate(KILLS):
        killed = _train(killed_config, tmp_path, hub.url, resume=attempt > 0, kill=kill)
        assert killed.returncode == -9, f"not killed at {kill}: {killed.stderr[-3000:]}"
    _train_here(killed_config, hub.url, resume=True)
    assert "resumed from checkpoint 6 (stage 1, step 2)" in capfd.readouterr().out  # inside the image-folder stage
    for stage in range(len(RUN_FORMATS)):
        expected = load_file(tmp_path / "reference" / f"stage-{stage}" / "model.safetensors")
        result = load_file(tmp_path / "killed" / f"stage-{stage}" / "model.safetensors")
        assert max((expected[k] - result[k]).abs().max().item() for k in expected) <= 1e-6, stage
    held = _held_out_pairs(tmp_path / "reference")
    carve = RowSelection(heldout="only", heldout_fraction=0.2, seed=0)  # the run's carving, on the local copies
    local = [set(_pair_keys(replace(hub.local[kind], rows=carve))) for kind in RUN_FORMATS]
    assert held == _held_out_pairs(tmp_path / "killed") == local
    assert all(len(chunk) > 0 for chunk in held)
    demo = local_source(tmp_path / "reference")  # the demo's retrieval gallery is the run's held-out pairs
    assert demo.manifest == tmp_path / "reference" / "data" / "eval" / "manifest.json"
    assert len(load_gallery(demo.manifest).captions) == sum(len(chunk) for chunk in held)
