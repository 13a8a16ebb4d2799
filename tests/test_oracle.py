"""The Oracle of a run: the run's final architecture from scratch on the union of the chunks, and its compute."""

import json

import pytest
from transformers import AutoConfig

from growclip_hf import GrowCLIPConfig
from growclip_hf.data.benchmark.builder import build_benchmark
from growclip_hf.growth.flops import training_flops_per_pair
from growclip_hf.stages.manifest_plan import ManifestPlan
from growclip_hf.stages.oracle import UnionPlan, oracle_compute, oracle_settings

from .run_helpers import growclip, write_train_config


@pytest.fixture(scope="module")
def small_benchmark(tmp_path_factory):
    folder = tmp_path_factory.mktemp("benchmark")
    build_benchmark(folder, scale="small", seed=0)
    return folder


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_union_plan_streams_every_chunk_seen_so_far(small_benchmark):
    manifest = json.loads((small_benchmark / "manifest.json").read_text())
    sizes = [chunk["num_train"] for chunk in manifest["chunks"]]
    plan = ManifestPlan(small_benchmark / "manifest.json", processor=None, replay="all")
    union = UnionPlan(plan, 1)
    assert union.num_stages == 1 and union.train_pairs(0) == sizes[0] + sizes[1]
    with pytest.raises(ValueError, match="replay 'all'"):
        UnionPlan(ManifestPlan(small_benchmark / "manifest.json", processor=None, replay="reservoir"), 1)
    with pytest.raises(ValueError, match="outside the stream's stages"):
        UnionPlan(plan, len(sizes))


def test_oracle_trains_the_final_architecture_from_scratch_and_counts_its_compute(tmp_path, small_benchmark):
    run_dir = tmp_path / "run"
    config = write_train_config(tmp_path / "train.yaml", small_benchmark / "manifest.json", run_dir, strategy="er")
    result = growclip(["train", str(config), "--no-report"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]

    oracle_dir = tmp_path / "oracle"
    result = growclip(["oracle", str(run_dir), "--output-dir", str(oracle_dir), "--no-report"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cumulative compute is" in result.stdout

    final, oracle = AutoConfig.from_pretrained(run_dir / "stage-1"), AutoConfig.from_pretrained(oracle_dir / "stage-0")
    assert final.growth_history and not oracle.growth_history  # trained from scratch, never grown
    assert oracle.text_config.hidden_size == final.text_config.hidden_size == 48
    assert oracle.text_config.num_hidden_layers == final.text_config.num_hidden_layers == 2
    assert oracle.projection_dim == final.projection_dim == 40
    assert (oracle_dir / "tokenizer" / "tokenizer.json").read_text() == (
        run_dir / "tokenizer" / "tokenizer.json"
    ).read_text()
    settings = json.loads((oracle_dir / "run_settings.json").read_text())
    assert settings["continual"] == {"strategy": "jointt"} and settings["growth"] == {"policy": "none"}

    record = json.loads((oracle_dir / "oracle.json").read_text())
    trained = _records(oracle_dir / "stages.jsonl")[-1]
    run_stages = _records(run_dir / "stages.jsonl")
    assert len(record["oracle_flops_per_stage"]) == len(run_stages) == 2
    # the analytic count of the stage it trained equals what the training loop counted while training it
    assert record["oracle_flops_per_stage"][-1] == pytest.approx(trained["train_flops"], rel=1e-9)
    assert record["oracle_cumulative_flops"][-1] == pytest.approx(sum(record["oracle_flops_per_stage"]), rel=1e-12)
    assert record["run_cumulative_flops"][-1] == run_stages[-1]["train_flops"] + run_stages[-1]["search_flops"]


def test_oracle_of_a_folder_without_a_run_says_what_to_do(tmp_path):
    result = growclip(["oracle", str(tmp_path)], tmp_path)
    assert result.returncode != 0 and "run `growclip-hf run` first" in result.stderr


def test_the_oracle_of_a_budgeted_run_gets_the_compute_the_run_spent_up_to_each_stage(tmp_path, small_benchmark):
    """Under training.flops_per_stage the Oracle is at equal compute: retraining at stage K gets budgets 0..K."""
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}
    model = {"text_config": {**tower, "vocab_size": 64}, "vision_config": {**tower, "image_size": 32, "patch_size": 8}}
    run_dir = tmp_path / "run"
    GrowCLIPConfig(**model, projection_dim=32).save_pretrained(run_dir / "stage-1")
    budgets = [2e10, 5e10, 1e11]
    training = {"batch_size": 8, "flops_per_stage": budgets}
    (run_dir / "run_settings.json").write_text(json.dumps({"model": model, "training": training, "data": {}}))
    cumulative = [2e10, 7e10]  # stages.jsonl counts the run's compute so far
    (run_dir / "stages.jsonl").write_text(
        "".join(json.dumps({"train_flops": flops, "search_flops": 0.0}) + "\n" for flops in cumulative)
    )

    settings = oracle_settings(run_dir, 1, seed=None)
    assert settings["training"]["flops_per_stage"] == pytest.approx(7e10)  # stages 0 and 1 of the run together
    assert settings["training"]["batch_size"] == 8 and settings["growth"] == {"policy": "none"}

    plan = ManifestPlan(small_benchmark / "manifest.json", processor=None, replay="all", max_stages=2)
    config = GrowCLIPConfig.from_pretrained(run_dir / "stage-1")
    record = oracle_compute(run_dir, plan, config, 8, steps_of=lambda pairs: pytest.fail("passes are not the rule"))
    per_step = 8 * training_flops_per_pair(config)
    for spent, budget in zip(record["oracle_flops_per_stage"], cumulative, strict=True):
        assert budget - per_step < spent <= budget
    assert record["run_over_oracle"][-1] == pytest.approx(7e10 / sum(record["oracle_flops_per_stage"]), rel=0.05)
