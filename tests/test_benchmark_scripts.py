"""The benchmark scripts' own logic: the generated docs page, the compute-to-target read-off, the architecture
hand-over to fixed-architecture runs, and the throughput script end to end at a tiny size."""

import importlib
import json
import math
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from growclip_hf import GrowCLIPConfig, GrowCLIPModel
from growclip_hf.growth.flops import training_flops_per_pair
from growclip_hf.stages.launch import apply_overrides, build_policy
from growclip_hf.stages.presets import preset
from growclip_hf.training import TrainingConfig

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def scripts():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {
            name: importlib.import_module(name)
            for name in (
                *("doc_sections", "growth_efficiency", "precondition_map", "growth_sweep", "late_growth_probe"),
                *("main_stream_map", "previous_default", "continual_results"),
            )
        }
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_sections_are_replaced_in_place_and_others_kept(tmp_path, scripts):
    write = scripts["doc_sections"].write_section
    page = tmp_path / "benchmarks.md"
    write(page, "throughput", "old numbers")
    write(page, "growth", "growth numbers")
    write(page, "throughput", "new numbers")
    text = page.read_text()
    assert text.startswith("# Benchmarks")
    assert "new numbers" in text and "old numbers" not in text and "growth numbers" in text
    assert text.count("<!-- throughput:start -->") == 1
    assert text.index("new numbers") < text.index("growth numbers")  # kept its place
    page.write_text(text.replace("# Benchmarks", "# An outdated header", 1))
    write(page, "growth", "newer growth numbers")
    assert page.read_text().startswith("# Benchmarks") and "outdated" not in page.read_text()
    assert "new numbers" in page.read_text()


def _point(multiple: float, zeroshot: float) -> dict:
    return {"compute_flops": multiple * 1e12, "object_zeroshot": zeroshot}


def test_compute_to_target_interpolates_in_log_compute(scripts):
    read_off = scripts["growth_efficiency"].compute_to_target
    result = read_off(25.0, [_point(2.0, 30.0), _point(1.0, 20.0)], auto_compute=1e12)
    assert result["bound"] is None
    assert result["needed"] == pytest.approx(math.sqrt(2) * 1e12)  # half-way in log compute
    assert result["saving"] == pytest.approx(1 - 1 / math.sqrt(2))


def test_compute_to_target_reports_bounds_outside_the_runs(scripts):
    read_off = scripts["growth_efficiency"].compute_to_target
    short = read_off(40.0, [_point(1.0, 20.0), _point(2.0, 30.0)], auto_compute=1e12)
    assert short["bound"] == "more than" and short["saving"] == pytest.approx(0.5)
    beyond = read_off(10.0, [_point(1.0, 20.0), _point(0.5, 15.0)], auto_compute=1e12)
    assert beyond["bound"] == "less than" and beyond["saving"] == pytest.approx(-1.0)


# The default preset the stored runs of growth_efficiency, continual_results, strategies and main_job's older columns
# were measured with (src/growclip_hf/stages/presets.py before the default became compute-optimal growth).
_TOWER_128 = {"hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4}
PREVIOUS_DEFAULT = {
    "model": {
        "text_config": {**_TOWER_128, "max_position_embeddings": 32},
        "vision_config": {**_TOWER_128, "image_size": 64, "patch_size": 8},
        "shared_config": {**_TOWER_128, "num_hidden_layers": 0},
        "projection_dim": 128,
    },
    "tokenizer": {"vocab_size": 4096, "context_length": 32},
    "training": {
        **{"batch_size": 128, "epochs_per_stage": 2.0, "learning_rate": 1e-3, "warmup_steps": 10},
        **{"checkpoint_every": 100, "log_every": 10, "ramp_steps": 30},
    },
    "growth": {
        **{"policy": "auto", "trigger": "plateau", "method": "halving", "max_search_fraction": 0.15},
        **{"min_proxy_steps": 2, "budget_exponent": 0.75},
    },
    "continual": {"strategy": "er"},
    "data": {"shuffle_buffer": 1000, "num_workers": 0, "reservoir_size": 5000},
}


def test_the_previous_default_overrides_rebuild_the_recipe_the_stored_runs_used(scripts):
    """Re-running a benchmark whose store holds previous-default runs must train that recipe, not today's default."""
    module = scripts["previous_default"]
    rebuilt = apply_overrides(preset("default"), module.overrides("default"))
    assert rebuilt["model"] == PREVIOUS_DEFAULT["model"]
    assert TrainingConfig.from_dict(rebuilt["training"]) == TrainingConfig.from_dict(PREVIOUS_DEFAULT["training"])
    assert build_policy(rebuilt["growth"]) == build_policy(PREVIOUS_DEFAULT["growth"])
    assert {k: rebuilt[k] for k in ("tokenizer", "continual", "data")} == {
        k: PREVIOUS_DEFAULT[k] for k in ("tokenizer", "continual", "data")
    }
    assert build_policy(preset("default")["growth"]) != build_policy(PREVIOUS_DEFAULT["growth"])  # it does change it
    assert module.overrides("small") == [] and module.set_args("default")[:2] == ["--set", module.SETS[0]]
    start = scripts["growth_efficiency"].starting_architecture("default")
    assert start["vision_config"]["hidden_size"] == 128 and start["projection_dim"] == 128


def test_the_continual_results_cells_keep_their_policy_over_the_previous_recipe(scripts, tmp_path):
    """The recipe's own growth.policy must not override a cell's (a fixed-architecture cell stays fixed)."""
    module = scripts["continual_results"]
    for policy in ("none", "auto"):
        command = module.run_command("er", policy, 0, 1.0, tmp_path / "out", tmp_path / "data")
        overrides = [command[i + 1] for i, arg in enumerate(command) if arg == "--set"]
        settings = apply_overrides(preset("default"), overrides)
        assert settings["growth"]["policy"] == policy and "--policy" not in command
        assert settings["model"] == PREVIOUS_DEFAULT["model"] and settings["training"]["epochs_per_stage"] == 1.0


def test_a_grown_architecture_is_rebuilt_from_the_overrides(scripts):
    """fixed-large trains the auto run's final architecture from scratch: the settings must rebuild it exactly."""
    module = scripts["growth_efficiency"]
    model = preset("default")["model"]
    base = GrowCLIPConfig(**{**model, "text_config": {**model["text_config"], "vocab_size": 64}})
    target = {"text_config": {"num_attention_heads": 6, "hidden_size": 192}}
    target |= {"vision_config": {"num_hidden_layers": 3}, "shared_config": {"num_hidden_layers": 1}}
    grown = GrowCLIPModel(base).grow(target, init="random", seed=0).config
    architecture = module.architecture_of(grown.to_dict())
    rebuilt = apply_overrides(preset("default"), module.architecture_overrides(architecture))["model"]
    rebuilt["text_config"]["vocab_size"] = 64
    config = GrowCLIPConfig(**rebuilt)
    assert config.text_config.head_dim == grown.text_config.head_dim  # explicit after head growth
    assert sum(p.numel() for p in GrowCLIPModel(config).parameters()) == sum(
        p.numel() for p in GrowCLIPModel(grown).parameters()
    )
    assert module.training_flops_per_pair(architecture) == pytest.approx(training_flops_per_pair(grown))


def test_throughput_script_runs_and_explains_a_missing_peer(tmp_path):
    """In the test environment open_clip cannot import (no torchvision): the table still has both HF models."""
    page = tmp_path / "benchmarks.md"
    command = [sys.executable, str(BENCHMARKS / "throughput.py"), "--width", "32", "--layers", "1", "--heads", "2"]
    command += ["--batch-size", "4", "--rounds", "2", "--steps", "1", "--profile", "--fused-qkv"]
    command += ["--matmul-size", "128"]
    command += ["--doc", str(page)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    text = page.read_text()
    assert "| GrowCLIPModel |" in text and "| transformers CLIPModel |" in text
    assert "| GrowCLIPModel, fused QKV (experiment) |" in text  # checked to compute the same logits first
    ratio_cell = text.split("| transformers CLIPModel |")[1].splitlines()[0].split("|")[-2]
    assert ratio_cell.strip().endswith("]") and "x [" in ratio_cell  # median [min-max] over the rounds
    try:
        import open_clip  # noqa: F401
    except Exception:
        assert "open_clip skipped:" in text
    assert "aten::" in text  # the profile table names operators


class _ScratchRuns:
    """Stands in for the sweep's training runs (minutes each): zero-shot as a given function of the multiple."""

    def __init__(self, accuracy, more=(2.0, 4.0)):
        self.accuracy, self.multiples = accuracy, []
        self.args = types.SimpleNamespace(scratch_more=list(more))

    def fixed(self, name, seed, auto, architecture, multiple):
        self.multiples.append(multiple)
        return {"compute_flops": multiple * auto["compute_flops"], "object_zeroshot": self.accuracy(multiple)}


@pytest.mark.parametrize(
    ("accuracy", "more", "expected"),
    [
        (lambda m: 20 + 4 * m, (2.0, 4.0), [2.0, 4.0]),  # short at 1x and 2x, past the target at 4x
        (lambda m: 20 + 4 * m, (2.0,), [2.0]),  # --scratch-more 2: short at 2x is where it stops (a bound)
        (lambda m: 25 + 4 * m, (2.0, 4.0), [2.0]),  # past it at 2x
        (lambda m: 10 + 20 * m, (2.0, 4.0), [0.5]),  # reaches it at 1x, short at 0.5x
        (lambda m: 40 - m, (2.0, 4.0), [0.5, 0.25]),  # above it everywhere: every smaller multiple, then a bound
    ],
)
def test_scratch_runs_stop_once_the_target_is_bracketed(scripts, monkeypatch, accuracy, more, expected):
    module = scripts["growth_efficiency"]
    monkeypatch.setattr(module, "architecture_of", lambda config: {})
    auto = {"object_zeroshot": 30.0, "compute_flops": 1e12, "config": {}}
    runs = _ScratchRuns(accuracy, more)
    points = module.scratch_points(runs, 0, auto, {"compute_flops": 1e12, "object_zeroshot": accuracy(1.0)}, [])
    assert runs.multiples == expected
    assert len(points) == 1 + len(expected)


def test_priority_gate_hands_a_freed_slot_to_the_most_urgent_waiting_run(scripts):
    module = scripts["growth_efficiency"]
    gate, started, lock = module.PriorityGate(1), [], threading.Lock()
    holding, release = threading.Event(), threading.Event()

    def first():
        with gate.turn(3):
            holding.set()
            release.wait(5)

    def waiting(name):
        with gate.turn(module.priority(name)), lock:
            started.append(name)

    threads = [threading.Thread(target=first)]
    threads[0].start()
    holding.wait(5)
    for name in ("pim-0", "random", "fixed-small", "auto"):  # queued in this order while the slot is taken
        threads.append(threading.Thread(target=waiting, args=(name,)))
        threads[-1].start()
        time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(5)
    assert started == ["auto", "fixed-small", "random", "pim-0"]


def test_saving_summary_states_what_holds_for_every_seed(scripts):
    summary = importlib.import_module("growth_efficiency_tables").saving_summary
    exact = [{"saving": 0.30, "bound": None}, {"saving": 0.40, "bound": None}]
    assert summary(exact) == "35 ± 7%"
    bounded = [{"saving": 0.39, "bound": None}, {"saving": 0.75, "bound": "more than"}]
    assert summary(bounded) == "at least +39% in every seed"
    assert summary([{"saving": 0.2, "bound": "more than"}, {"saving": -0.1, "bound": "less than"}]).startswith("seeds")


def test_a_difference_is_marked_only_when_its_mean_exceeds_its_spread(scripts):
    difference = importlib.import_module("growth_efficiency_tables").difference
    assert difference([2.0, 2.5, 3.0], 1) == "+2.5 ± 0.5 *"
    assert difference([-1.0, 2.0, 0.5], 1) == "+0.5 ± 1.5"
    assert difference([4.0], 1) == "+4.0"  # one seed has no spread to exceed


def _run(name: str, seed: int, object_zeroshot: float, compute: float = 1e12) -> dict:
    return {
        "name": name,
        "seed": seed,
        "object_zeroshot": object_zeroshot,
        "attribute_zeroshot": 50.0,
        "retrieval_Rm": 3.0 + seed / 10,
        "compute_flops": compute,
        "max_search_fraction": 0.12,
        "parameters": 1000,
        "growths": [],
    }


def test_the_section_tabulates_every_configuration_per_seed(scripts):  # scripts: benchmarks/ on the import path
    tables = importlib.import_module("growth_efficiency_tables")
    growing = [_run("auto", s, 30.0 + s) for s in range(3)] + [_run("random", s, 27.0 + s) for s in range(3)]
    fixed = {(kind, s): _run(f"fixed-{kind}", s, 25.0) for kind in ("small", "large") for s in range(3)}
    scratch = {s: [fixed[("large", s)]] for s in range(3)}
    targets = {s: {"needed": 2e12, "saving": 0.5, "bound": None} for s in range(3)}
    context = {"date": "d", "machine": "m", "commit": "c", "versions": "v", "command": "x", "runs": 12}
    section = tables.efficiency_section(
        growing, fixed, scratch, targets, {**context, "run_hours": 1.0, "epochs": 2, "scale": "default"}
    )
    random_row = next(line for line in section.splitlines() if line.startswith("| random candidate"))
    assert "| 12.0% |" in random_row and "-3.0 ± 0.0 *" in random_row  # 3 points behind auto in every seed
    auto_row = next(line for line in section.splitlines() if line.startswith("| auto search (one round"))
    assert "| 31.0 ± 1.0 |  | 3.10 ± 0.10 |  |" in auto_row  # the reference has no difference to itself
    assert "**+6.0 ± 1.0 ***" in section  # auto (30, 31, 32) against fixed-small (25), paired by seed
    assert "| all seeds | | | | | 50 ± 0% |" in section


def test_a_smaller_start_is_tagged_in_every_key_and_sets_the_fixed_small_model(scripts, tmp_path, monkeypatch):
    """--start changes every run's model: its runs must never be read back as the preset's, and fixed-small is it."""
    module = scripts["growth_efficiency"]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.json").write_text('{"format_version": 2}')
    args = types.SimpleNamespace(out=str(tmp_path), store=str(tmp_path / "store.json"), jobs=1, epochs=2.0)
    args.scale, args.start_name = "default", "w64"
    sweep = module.Sweep(args)
    assert sweep.key("auto", 0) == "auto|seed0|epochs2|default|stream-v2"
    monkeypatch.setattr(module, "START", ["model.vision_config.hidden_size=64", "model.projection_dim=64"])
    assert sweep.key("auto", 0) == "auto|seed0|epochs2|default|start-w64|stream-v2"
    small = module.starting_architecture("default", module.START)
    assert small["vision_config"]["hidden_size"] == 64 and small["projection_dim"] == 64
    assert small["text_config"]["hidden_size"] == PREVIOUS_DEFAULT["model"]["text_config"]["hidden_size"]


def test_gpu_scale_script_runs_its_three_parts_at_a_tiny_size_on_the_cpu(tmp_path, monkeypatch):
    """benchmarks/gpu_scale.sh's Python part, in this process (its imports are paid already): --tiny is what runs
    without a device; on one it is the same code at ViT-B/32, batch 256, bf16."""
    import torch

    assert subprocess.run(["bash", "-n", str(BENCHMARKS / "gpu_scale.sh")]).returncode == 0
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    gpu_scale = importlib.import_module("gpu_scale")
    monkeypatch.setattr(sys, "argv", ["gpu_scale.py", "--out", str(tmp_path), "--tiny"])
    threads = torch.get_num_threads()
    try:
        gpu_scale.main()
    finally:
        torch.set_num_threads(threads)  # the stage loop chose threads against its loader worker
    results = json.loads((tmp_path / "results.json").read_text())
    rows = {row["model"]: row for row in results["throughput"]["rows"]}
    assert {"GrowCLIPModel", "transformers CLIPModel"} <= set(rows) and rows["GrowCLIPModel"]["pairs_per_s"] > 0
    assert results["growth_error"]["max_logit_difference"]["fp32"] <= 1e-5
    run = results["staged_run"]
    assert run["candidates"] == ["keep", "shared-depth"] and run["train_pairs_per_s"] > 0 and run["workers"] == 1


def test_real_sizes_table_relates_the_search_peak_to_weights_and_adamw(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    real_sizes = importlib.import_module("real_sizes")
    fp32 = {"parameters": 100_000_000, "step_seconds": [3.0, 5.0, 4.0], "train_peak_bytes": 2.0e9}
    fp32 |= {"search_peak_bytes": 3.6e9, "checkpoint_bytes": 1.2e9, "checkpoint_seconds": 6.0}
    large = {k: v for k, v in fp32.items() if k != "search_peak_bytes"}
    rows = real_sizes.table({"vit-b-32": {"no": fp32, "bf16": None}, "vit-l-14": {"no": large}}).splitlines()
    assert rows[2] == "| ViT-B/32 | 100.0M | 1.20 | 4.0 | 2.00 | not measured | 3.60 | 1.60 | 3.00 | 1.20 | 6.0 |"
    assert "| ViT-L/14 |" in rows[3] and rows[3].count("not measured") == 3


def _cell(width: int, budget: float, seed: int, accuracies: list[float]) -> dict:
    chunks = [{"chunk": k, "zero_shot": value} for k, value in enumerate(accuracies)]
    return {"width": width, "budget_tflop": budget, "seed": seed, "parameters": width * 1000, "steps_per_chunk": 9,
            "chunks": chunks}  # fmt: skip


def test_the_precondition_map_names_the_best_width_per_budget_and_chunk(scripts):
    cells = [_cell(16, 1.0, s, [30.0 + s, 20.0]) for s in (0, 1)] + [
        _cell(64, 1.0, s, [25.0, 24.0 + 2 * s]) for s in (0, 1)
    ]
    text = scripts["precondition_map"].table(cells)
    assert "| 16 | 16,000 | 9 | 30.5 ± 0.5 (2) | 20.0 ± 0.0 (2) |" in text
    assert "| 64 | 64,000 | 9 | 25.0 ± 0.0 (2) | 25.0 ± 1.0 (2) |" in text
    assert text.splitlines()[-1] == "| 1.0 | 16 | 64 |"  # a crossover: the small width first, the large one last
    pairs = scripts["precondition_map"].paired(cells)
    assert pairs.splitlines()[-1] == "| 1.0 | 64 - 16 | -5.0 / -6.0 | +4.0 / +6.0 |"  # seed by seed


def test_every_arm_of_the_growth_sweep_spends_each_chunks_budget_and_auto_pays_for_its_search(scripts):
    """The sweep's fairness: per chunk, every arm's training plus search FLOPs fill the chunk's budget (short of it by
    less than one of its steps), auto's search spends at most its fraction, and the tables read the verdicts off."""
    sweep = scripts["growth_sweep"]
    args, inputs = _tiny_sweep(sweep, [0.0002, 0.0004], slope_min_gain=10.0)
    tokenizer = inputs[1]
    arms = ("fixed-16", "fixed-32", "auto", "auto-slope")
    runs = [sweep.run_arm(arm, 0, args, *inputs) for arm in arms]
    for run in runs:
        spent = 0.0
        for chunk, budget in zip(run["chunks"], args.budgets, strict=True):
            shape = sweep.model_config(chunk["width"], chunk["layers"], args.image_size, args.patch_size, tokenizer)
            step = args.batch_size * training_flops_per_pair(shape, 16)
            chunk_flops = chunk["cumulative_tflop"] * 1e12 - spent
            assert budget * 1e12 - step < chunk_flops <= budget * 1e12 * (1 + 1e-9), (run["arm"], chunk)
            spent = chunk["cumulative_tflop"] * 1e12
    auto = runs[2]
    search = auto["decisions"][0]["search"]
    assert len(search["candidates"]) >= 2 and 0 < search["search_flops"] <= 0.15 * args.budgets[1] * 1e12
    assert auto["chunks"][1]["search_flops"] == search["search_flops"]
    slope = runs[3]["decisions"][0]["search"]  # a threshold no curve meets: the trigger fires, growth only is scored
    assert slope["trigger"]["fire"] and slope["trigger"]["points"] >= 3 and "keep" not in slope["choice"]
    assert all(c["name"] != "keep" for c in slope["candidates"])
    text = sweep.tables(runs, args.widths)
    assert "| auto (1) |" in text and "best fixed width per chunk: " in text and "auto minus each arm" in text


def test_a_late_growth_variant_changes_only_the_last_chunk(scripts):
    """The probe's variants share their first chunks with the sweep's run of the same seed; only the last differs."""
    probe, sweep = scripts["late_growth_probe"], scripts["growth_sweep"]
    assert probe.parse_variant("late-40-peak-lr1.5") == {"start": 16, "last": 40, "peak": True, "lr_factor": 1.5}
    found = {"late-32": {0: 31.0, 1: 33.0, 2: 40.0}, "fixed-32": {0: 30.0, 1: 30.0}}
    assert probe.paired(found, "late-32", "fixed-32") == "late-32 - fixed-32: +2.0 ± 1.4 † (2 seeds: +1.0, +3.0)"
    assert "fewer than 2" in probe.paired(found, "late-32", "fixed-16")
    for bad in ("late", "wide-32"):
        with pytest.raises(ValueError, match="late-W"):
            probe.parse_variant(bad)
    with pytest.raises(ValueError, match="known: peak, lrX"):
        probe.parse_variant("late-32-slow")
    args, inputs = _tiny_sweep(sweep, [0.0002, 0.003])
    late = probe.run_variant("late-32-peak", 0, args, *inputs)
    hand_late = sweep.run_arm("hand-late", 0, args, *inputs)
    assert [c["width"] for c in late["chunks"]] == [16, 32] == [c["width"] for c in hand_late["chunks"]]
    assert late["chunks"][0] == hand_late["chunks"][0]  # the same first chunk, to the digit
    assert late["chunks"][1]["steps"] == hand_late["chunks"][1]["steps"]  # the same budget in the last one
    assert late["chunks"][1]["steps"] >= 30  # so that the recipe's warmup (5 % of the steps) is more than one step
    assert late["chunks"][1]["heldout_loss"] != hand_late["chunks"][1]["heldout_loss"]  # no warmup: another run


def _sweep_run(arm: str, seed: int, scores: list[float], width: int) -> dict:
    chunks = [
        {"zero_shot": z, "retrieval_Rm": z, "cumulative_tflop": k + 1.0, "width": width, "layers": 2}
        for k, z in enumerate(scores)
    ]
    return {"arm": arm, "seed": seed, "chunks": chunks, "decisions": []}


def test_sweep_verdicts_compare_only_the_seeds_every_arm_shares(scripts):
    """A seed that only the fixed widths ran must not move the growing arm's verdicts."""
    runs = [
        _sweep_run("fixed-16", 0, [20.0, 30.0], 16),
        _sweep_run("fixed-16", 1, [22.0, 30.0], 16),
        _sweep_run("fixed-32", 0, [10.0, 34.0], 32),
        _sweep_run("fixed-32", 1, [12.0, 36.0], 32),
        _sweep_run("fixed-32", 2, [10.0, 10.0], 32),  # a bad seed the growing arm never ran
        _sweep_run("auto-compute-width", 0, [20.0, 35.0], 32),
        _sweep_run("auto-compute-width", 1, [22.0, 35.0], 32),
    ]
    text = scripts["growth_sweep"].tables(runs, [16, 32])
    verdicts = text[text.index("verdicts for auto-compute-width") :]
    assert "2 common seeds" in verdicts.splitlines()[0]
    assert "final chunk minus the best fixed width's: +0.0 points" in verdicts  # 35 against fixed-32's 35, not 26.7
    assert "fixed-32 minus fixed-16 after the last chunk: +5.0 ± 1.4 †" in verdicts


def test_the_main_stream_map_runs_the_width_and_budgets_it_names(scripts, tmp_path):
    """The map's runs differ only in width and per-stage FLOPs: the CLI's own overrides must build exactly those."""
    module = scripts["main_stream_map"]
    command = module.run_command(32, 0, [0.5, 1.0, 2.0], tmp_path / "out", tmp_path / "data")
    overrides = [command[i + 1] for i, arg in enumerate(command) if arg == "--set"]
    settings = apply_overrides(preset("default"), overrides)
    model = GrowCLIPConfig(**settings["model"])
    for tower in (model.vision_config, model.text_config):
        assert (tower.hidden_size, tower.intermediate_size) == (32, 128)
    assert model.projection_dim == 32 and command[command.index("--stages") + 1] == "3"
    training = TrainingConfig.from_dict(settings["training"])
    assert [training.stage_flops(k) for k in range(3)] == pytest.approx([5e11, 1e12, 2e12])
    assert command[command.index("--policy") + 1] == "none" and "--resume" not in command


def _map_run(width: int, seed: int, object_zeroshot: list[float]) -> dict:
    stage = {"fashion_mnist": 50.0, "mnist_digits": 40.0, "union_Rm": 3.0, "parameters": width * 1000}
    stages = [{**stage, "stage": k, "object_zeroshot": value} for k, value in enumerate(object_zeroshot)]
    return {"width": width, "seed": seed, "budgets": [1.0, 4.0], "stages": stages, "seconds": 60.0}


def test_the_main_stream_map_names_the_best_width_per_stage(scripts):
    runs = [_map_run(32, 0, [30.0, 33.0]), _map_run(32, 1, [28.0, 33.0]), _map_run(64, 0, [25.0, 36.0])]
    text = scripts["main_stream_map"].tables(runs, [1.0, 4.0])
    assert "| 32 (32,000, 2) | 29.0 | 33.0 |" in text
    assert "best width per stage (object zero-shot): 32, 64" in text and "late): yes" in text
    flat = scripts["main_stream_map"].tables([_map_run(32, 0, [30.0, 37.0]), _map_run(64, 0, [25.0, 36.0])], [1.0, 4.0])
    assert "late): no" in flat
    assert scripts["main_stream_map"].tables(runs, [2.0]) == "no stored run at budgets [2.0]"


def test_a_pim_variant_makes_its_base_arms_decisions_and_grows_by_pim(scripts):
    """``hand+pim0.5`` grows where hand grows, into a model that no longer computes what the grown-from one did."""
    sweep = scripts["growth_sweep"]
    args, inputs = _tiny_sweep(sweep, [0.0002, 0.0002])
    hand, pim = (sweep.run_arm(arm, 0, args, *inputs) for arm in ("hand", "hand+pim0.5"))
    assert pim["arm"] == "hand+pim0.5" and pim["decisions"] == hand["decisions"]
    assert [c["width"] for c in pim["chunks"]] == [16, 32] == [c["width"] for c in hand["chunks"]]
    assert pim["chunks"][0] == hand["chunks"][0] and pim["chunks"][1] != hand["chunks"][1]
    assert sweep.growth_init("auto+pim0.9") == ("pim", 0.9) and sweep.growth_init("hand") == ("preserve", 0.0)
    with pytest.raises(ValueError, match="ARM\\+pimM"):
        sweep.growth_init("hand+noise")
    assert "| hand+pim0.5 (1) |" in sweep.tables([hand, pim], args.widths)


def test_the_sweeps_width_step_is_the_products_model_width_candidate(scripts):
    """The sweep's compute-policy arms grow by its own ``width-W`` targets; the product proposes the same growth with
    ``growth.space: {model_width_factor: 2}``, so the measured recipe is a product setting."""
    sweep = scripts["growth_sweep"]
    from growclip_hf.growth import GrowthSpace
    from growclip_hf.models.tokenization import train_tokenizer

    tokenizer = train_tokenizer(["a picture of a cat.", "a dog."], vocab_size=300, context_length=16)
    for width in (16, 32):
        config = sweep.model_config(width, 2, 32, 8, tokenizer)
        product = {c.name: c.target for c in GrowthSpace(model_width_factor=2.0).candidates(config)}["width"]
        assert product == sweep.widened(config, 2 * width)


def _tiny_sweep(sweep, budgets: list[float], **extra) -> tuple[types.SimpleNamespace, tuple]:
    """The growth sweep's setup at a size a test trains in seconds: its args and ``(stream, tokenizer, heldouts,
    pairs)``, the inputs every arm and probe variant takes after ``(arm, seed, args)``."""
    from growclip_hf.data.benchmark.growing_concepts import GrowingConceptStream
    from growclip_hf.models.tokenization import train_tokenizer

    args = types.SimpleNamespace(
        widths=[16, 32], budgets=budgets, concepts_per_chunk=8, image_size=16, patch_size=8, layers=1,
        batch_size=16, lr=2e-3, base_width=32, search_fraction=0.15, **extra,
    )  # fmt: skip
    stream = GrowingConceptStream(args.concepts_per_chunk, len(budgets), args.image_size)
    tokenizer = train_tokenizer(stream.all_captions(), vocab_size=300, context_length=16)
    heldouts = [stream.heldout(k) for k in range(len(budgets))]
    pairs = [sweep.heldout_pairs(stream, k, 32, tokenizer) for k in range(len(budgets))]
    return args, (stream, tokenizer, heldouts, pairs)


def test_the_sweep_plot_averages_every_line_over_the_same_seeds(scripts, tmp_path):
    """A line over other seeds than its neighbours' would show seed noise as a difference between arms."""
    tables = importlib.import_module("growth_sweep_tables")
    runs = [_sweep_run("fixed-16", s, [20.0, 30.0], 16) for s in (0, 1, 2)]
    runs += [_sweep_run("fixed-32", s, [10.0, 34.0], 32) for s in (0, 1)]
    runs += [_sweep_run("auto-compute-width", s, [20.0, 35.0 + s], 32) for s in (0, 1, 2)]
    runs += [_sweep_run("hand", 0, [20.0, 33.0], 32)]
    seeds, plotted = tables.plotted_runs(tables._by_arm(runs, [16, 32]))
    assert seeds == {0, 1} and list(plotted) == ["fixed-16", "fixed-32", "auto-compute-width"]
    assert all(set(by_seed) == {0, 1} for by_seed in plotted.values())  # seed 2 left out of every line
    assert scripts["growth_sweep"].plot(runs, [16, 32], tmp_path / "sweep.png").stat().st_size > 0
