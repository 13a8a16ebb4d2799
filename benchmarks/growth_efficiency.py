"""Does growing pay? Compute to reach the same accuracy, accuracy at equal compute, and ablations of the growth
choices, all measured on the embedded semantic stream; writes its section of docs/benchmarks.md.

Every configuration is a real ``growclip-hf run --scale default`` over the 6 chunks with the default recipe (ER with a
5,000-pair reservoir; the same data order for every configuration of a seed). Its final model is evaluated on the
whole suite: object zero-shot top-1 (mean of the object tasks), attribute zero-shot top-1, and retrieval over the
union of the chunks' test pairs (Rm, the mean of R@1/5/10 in both directions, and R@1). Compute is the analytic
training FLOPs the run logged in ``stages.jsonl``, including the growth search's proxy training; every run's largest
search fraction is reported.

- (a) compute to target: the auto-growth run against its final architecture trained from scratch. The scratch run
  is repeated at more (or less) compute until it brackets the auto run's object zero-shot; the compute it needs is
  read off by interpolating in log compute. Saving = 1 - auto compute / scratch compute.
- (b) equal compute: auto against fixed-small (the starting architecture) and fixed-large (the auto run's final
  architecture), both given the auto run's total compute by training more or fewer passes per chunk.
- (c) ablations of the auto run: PIM with momentum 0/0.5/0.9/1 instead of function-preserving growth, no shared
  encoder in the growth space, a hand-written schedule and a random choice instead of the search; and two variants
  of the search: successive halving, and the plateau trigger (decide only once the loss has flattened).

Finished runs are kept in docs/growth_efficiency_runs.json under a key that names the stream's format version, so
results of an older stream are never mixed in.

Run: .venv/bin/python benchmarks/growth_efficiency.py [--seeds 0 1 2] [--epochs 2] [--jobs 1] [--scale default]
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import previous_default  # noqa: E402
from doc_sections import git_commit, library_versions, machine, write_section  # noqa: E402
from growth_efficiency_tables import TARGET, efficiency_section  # noqa: E402
from sweep_models import (  # noqa: E402
    architecture_of,
    architecture_overrides,
    starting_architecture,
    summarise,
    training_flops_per_pair,
)
from sweep_runs import PriorityGate, RunStore  # noqa: E402

# Both towers one layer deeper half-way through the stream: what a person would write without a search.
HAND_SCHEDULE = [None, None, {"vision_config": {"num_hidden_layers": 3}, "text_config": {"num_hidden_layers": 3}}]
EVERY = "growth.trigger=every"  # the decision at every chunk boundary, whatever the preset's trigger
SINGLE = "growth.method=single"  # GrowCLIP's one round of proxy training, whatever the preset's method
GROWTH_RUNS = {
    "auto": [EVERY, SINGLE],  # the search at every chunk, function-preserving initialisation
    "pim-0": [EVERY, SINGLE, "growth.init=pim", "growth.momentum=0"],
    "pim-0.5": [EVERY, SINGLE, "growth.init=pim", "growth.momentum=0.5"],
    "pim-0.9": [EVERY, SINGLE, "growth.init=pim", "growth.momentum=0.9"],
    "pim-1": [EVERY, SINGLE, "growth.init=pim", "growth.momentum=1"],
    "no-shared": [EVERY, SINGLE, "growth.space.shared_depth_step=0"],
    "schedule": ["growth.policy=schedule", f"growth.schedule={json.dumps(HAND_SCHEDULE)}"],
    "random": [EVERY, "growth.policy=random"],
    "halving": [EVERY, "growth.method=halving"],
    "plateau": ["growth.trigger=plateau", SINGLE],
}
# Tried in turn after 1x (= fixed-large) until the auto run's accuracy is bracketed: more compute if 1x falls short
# (--scratch-more; a run short at 2x already shows a saving above 50 %), less if 1x reaches it.
SCRATCH_MORE, SCRATCH_LESS = (2.0, 4.0), (0.5, 0.25)
SCALE = ["default"]  # the preset of every run; set once from --scale
START: list[str] = []  # overrides of the preset's starting model, for every run; set once from --start


def priority(name: str) -> int:
    """Which waiting run starts first when a slot frees: the auto runs, then what each figure needs, then the rest."""
    if name == "auto":
        return 0
    if name.startswith(("fixed-", "scratch-")):
        return 1
    return 2 if name in ("random", "schedule") else 3


class Sweep:
    def __init__(self, args):
        self.args = args
        self.out = Path(args.out)
        self.data_dir = self.out / "data"
        self.store = RunStore(Path(args.store))
        self.threads = max(1, (os.cpu_count() or 1) // args.jobs)
        self.gate = PriorityGate(args.jobs)
        self.used: dict[str, dict] = {}  # the runs this invocation reports, stored or new

    def key(self, name: str, seed: int) -> str:
        stream = json.loads((self.data_dir / "manifest.json").read_text())["format_version"]
        start = f"|start-{self.args.start_name}" if START else ""
        return f"{name}|seed{seed}|epochs{self.args.epochs:g}|{self.args.scale}{start}|stream-v{stream}"

    def run(self, name: str, seed: int, overrides: list[str], epochs: float) -> dict:
        """One real training run (or its stored result) and the evaluation of its final model."""
        key = self.key(name, seed)
        if self.store.get(key):
            self.used[key] = self.store.get(key)
            return self.used[key]
        folder = self.out / key.replace("|", "-")
        command = [sys.executable, "-m", "growclip_hf.cli", "run", "--scale", self.args.scale]
        command += ["--output-dir", str(folder)]
        command += ["--data-dir", str(self.data_dir), "--seed", str(seed), "--no-report", "--resume"]
        recipe = previous_default.overrides(self.args.scale)  # the recipe its store was measured with
        for item in [*recipe, *START, f"training.epochs_per_stage={epochs}", *overrides]:
            command += ["--set", item]
        with self.gate.turn(priority(name)):
            return self._train_and_evaluate(key, folder, command, name, seed, overrides, epochs)

    def _train_and_evaluate(self, key, folder, command, name, seed, overrides, epochs) -> dict:
        started = time.perf_counter()
        self._call(command, f"{key} training")
        from growclip_hf.evaluation.runs import discover_stages

        final = discover_stages(folder)[-1].path
        evaluation = folder / "final-eval"
        manifest = self.data_dir / "manifest.json"
        self._call(
            [sys.executable, "-m", "growclip_hf.cli", "eval", str(final), "--output-dir", str(evaluation)]
            + ["--data", str(manifest), "--no-plots", "--device", self.args.device],
            f"{key} evaluation",
        )
        result = summarise(folder, final, evaluation / "eval_results.json")
        result.update(name=name, seed=seed, epochs=epochs, overrides=overrides)
        result["seconds"] = time.perf_counter() - started
        result["machine"] = machine()
        result["versions"] = library_versions("torch", "transformers", "accelerate")
        self.store.put(key, result)
        self.used[key] = result
        print(
            f"{key}: object zero-shot {result['object_zeroshot']:.1f}, Rm {result['retrieval_Rm']:.2f}, "
            f"{result['compute_flops']:.3g} FLOPs, {result['seconds']:.0f} s",
            flush=True,
        )
        return result

    def _call(self, command: list[str], what: str) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
        env |= {"GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": str(self.threads)}
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"{what} failed ({' '.join(command)}):\n{result.stderr[-3000:]}")

    def fixed(self, name: str, seed: int, auto: dict, architecture: dict, multiple: float = 1.0) -> dict:
        """A fixed architecture given ``multiple`` times the auto run's compute (more or fewer passes per chunk)."""
        per_pair = training_flops_per_pair(architecture, SCALE[0])
        pairs_per_epoch = auto["pairs_trained"] / self.args.epochs
        epochs = round(multiple * auto["compute_flops"] / (per_pair * pairs_per_epoch), 4)
        overrides = ["growth.policy=none", *architecture_overrides(architecture)]
        return self.run(name, seed, overrides, epochs)


def seed_chain(sweep: Sweep, seed: int, small: dict) -> tuple[dict, dict, list[dict]]:
    """A seed's auto run, then its fixed-small, fixed-large and scratch runs as soon as it is done."""
    auto = sweep.run("auto", seed, GROWTH_RUNS["auto"], sweep.args.epochs)
    large_architecture = architecture_of(auto["config"])
    with ThreadPoolExecutor(max_workers=2 + len(sweep.args.scratch_more)) as pool:
        fixed = {
            "small": pool.submit(sweep.fixed, "fixed-small", seed, auto, small),
            "large": pool.submit(sweep.fixed, "fixed-large", seed, auto, large_architecture),
        }
        eager = []
        if sweep.args.eager_scratch:  # the larger multiples beside fixed-large, before knowing they are needed
            eager = [
                pool.submit(sweep.fixed, f"scratch-x{multiple:g}", seed, auto, large_architecture, multiple)
                for multiple in sweep.args.scratch_more
            ]
        runs = {kind: job.result() for kind, job in fixed.items()}
        if sweep.args.skip_scratch:
            return auto, runs, [runs["large"]]
        points = scratch_points(sweep, seed, auto, runs["large"], [job.result() for job in eager])
    return auto, runs, points


def scratch_points(sweep: Sweep, seed: int, auto: dict, large: dict, ran: list[dict]) -> list[dict]:
    """Scratch runs of the final architecture at 1x the auto compute, then 2x, 4x (or 0.5x, 0.25x) until the auto
    run's accuracy is bracketed; ``ran`` holds the ones that already ran."""
    architecture = architecture_of(auto["config"])
    target = auto[TARGET]
    points = [large, *ran]
    short = large[TARGET] < target
    for multiple in sweep.args.scratch_more if short else SCRATCH_LESS:
        point = sweep.fixed(f"scratch-x{multiple:g}", seed, auto, architecture, multiple)
        if point not in points:
            points.append(point)
        if (point[TARGET] >= target) == short:
            break
    return points


def compute_to_target(target: float, points: list[dict], auto_compute: float) -> dict:
    """Compute the scratch model needs to reach ``target``, interpolated in log compute, and the saving."""
    ordered = sorted(points, key=lambda p: p["compute_flops"])
    for low, high in zip(ordered, ordered[1:], strict=False):
        if low[TARGET] < target <= high[TARGET]:
            share = (target - low[TARGET]) / (high[TARGET] - low[TARGET])
            low_log, high_log = math.log(low["compute_flops"]), math.log(high["compute_flops"])
            log_compute = low_log + share * (high_log - low_log)
            needed = math.exp(log_compute)
            return {"needed": needed, "saving": 1 - auto_compute / needed, "bound": None}
    if all(p[TARGET] < target for p in ordered):
        most = ordered[-1]["compute_flops"]
        return {"needed": None, "saving": 1 - auto_compute / most, "bound": "more than"}
    least = ordered[0]["compute_flops"]
    return {"needed": None, "saving": 1 - auto_compute / least, "bound": "less than"}


def run_sweep(sweep: Sweep, names: list[str]) -> tuple[list[dict], dict, dict]:
    """Every growing run, and each seed's fixed and scratch runs as soon as its auto run is done."""
    args = sweep.args
    small = starting_architecture(SCALE[0], START)
    with ThreadPoolExecutor(max_workers=len(args.seeds) * (len(names) + 4)) as pool:  # the gate bounds the runs
        chains = {seed: pool.submit(seed_chain, sweep, seed, small) for seed in args.seeds} if "auto" in names else {}
        others = [
            pool.submit(sweep.run, name, seed, GROWTH_RUNS[name], args.epochs)
            for seed in args.seeds
            for name in names
            if name != "auto"
        ]
        chained = {seed: job.result() for seed, job in chains.items()}
        growing = [auto for auto, _, _ in chained.values()] + [job.result() for job in others]
    fixed = {(kind, seed): runs[kind] for seed, (_, runs, _) in chained.items() for kind in ("small", "large")}
    scratch = {seed: points for seed, (_, _, points) in chained.items()}
    return growing, fixed, scratch


def stored_runs(sweep: Sweep, names: list[str]) -> tuple[list[dict], dict, dict]:
    """The runs the store already holds for these seeds (nothing is trained): tables of a sweep done elsewhere."""
    setting = "|" + "|".join(sweep.key("", 0).split("|")[3:])  # scale, starting model and stream version
    found = {key: run for key, run in sweep.store.runs.items() if key.endswith(setting)}
    found = {key: run for key, run in found.items() if run["seed"] in sweep.args.seeds}
    sweep.used.update(found)
    growing = [run for run in found.values() if run["name"] in names]
    fixed = {
        (run["name"][len("fixed-") :], run["seed"]): run for run in found.values() if run["name"].startswith("fixed-")
    }
    scratch = {}
    for (kind, seed), large in fixed.items():
        if kind == "large":
            extra = [run for run in found.values() if run["name"].startswith("scratch-") and run["seed"] == seed]
            scratch[seed] = [large, *extra]
    return growing, fixed, scratch


def adopt_auto_runs(sweep: Sweep, template: str) -> None:
    """Store finished runs of the auto configuration made elsewhere (``benchmarks/main_job.py``'s ``every-chunk``
    runs are the same command) instead of training them again; ``template`` names a run folder with ``{seed}``."""
    for seed in sweep.args.seeds:
        folder = Path(template.format(seed=seed))
        key = sweep.key("auto", seed)
        if sweep.store.get(key) or not (folder / "eval_results.json").is_file():
            continue
        from growclip_hf.evaluation.runs import discover_stages

        final = discover_stages(folder)[-1].path
        result = summarise(folder, final, folder / "eval_results.json")
        result.update(name="auto", seed=seed, epochs=sweep.args.epochs, overrides=GROWTH_RUNS["auto"])
        wall = folder / "wall_seconds.txt"
        result["seconds"] = float(wall.read_text()) if wall.is_file() else 0.0
        result.update(machine=machine(), versions=library_versions("torch", "transformers", "accelerate"))
        result["adopted_from"] = str(folder)
        sweep.store.put(key, result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=float, default=2.0, help="Passes per chunk of the growing runs.")
    parser.add_argument("--jobs", type=int, default=1, help="Runs at once (threads are split between them).")
    parser.add_argument("--scale", default="default", help="Preset of every run (small: a quick check of the sweep).")
    parser.add_argument("--out", default="outputs/growth_efficiency")
    parser.add_argument("--store", default="docs/growth_efficiency_runs.json")
    parser.add_argument("--doc", default="docs/benchmarks.md")
    parser.add_argument("--only", nargs="+", default=None, help="Run only these growing configurations.")
    parser.add_argument(
        "--stored-only", action="store_true", help="Tabulate the runs the store holds for these seeds; train nothing."
    )
    parser.add_argument("--notes", default=None, help="A markdown file put at the top of the section.")
    parser.add_argument("--section", default="growth-efficiency", help="The section of --doc to (re)write.")
    parser.add_argument("--title", default="Growth efficiency on the embedded stream", help="The section's heading.")
    parser.add_argument("--device", default="cpu", help="Where the final evaluations run (training: Accelerate's).")
    parser.add_argument(
        "--start",
        nargs="+",
        default=[],
        help="Overrides of the starting model for every run, e.g. model.vision_config.hidden_size=64.",
    )
    parser.add_argument("--start-name", default=None, help="A short name for --start, part of every stored key.")
    parser.add_argument("--auto-from", default=None, help="Adopt finished auto runs: a run folder with {seed}.")
    parser.add_argument(
        "--skip-scratch", action="store_true", help="Stop each seed at fixed-large (no 2x/4x scratch runs)."
    )
    parser.add_argument(
        "--scratch-more",
        type=float,
        nargs="+",
        default=list(SCRATCH_MORE),
        help="Multiples of the auto compute tried in turn when 1x scratch falls short (e.g. 2: stop at 2x).",
    )
    parser.add_argument(
        "--eager-scratch",
        action="store_true",
        help="Start the 2x and 4x scratch runs beside fixed-large instead of after it (more runs, shorter wall time).",
    )
    args = parser.parse_args()
    if args.start and not args.start_name:
        parser.error("--start needs --start-name: it tags the stored runs so they never mix with the preset's.")
    SCALE[0], START[:] = args.scale, args.start
    sweep = Sweep(args)
    if not (sweep.data_dir / "manifest.json").is_file():
        from growclip_hf.data.benchmark.builder import build_benchmark

        build_benchmark(sweep.data_dir, scale=args.scale, seed=0)
    names = args.only or list(GROWTH_RUNS)
    if args.auto_from:
        adopt_auto_runs(sweep, args.auto_from)
    if args.stored_only:
        growing, fixed, scratch = stored_runs(sweep, names)
    else:
        growing, fixed, scratch = run_sweep(sweep, names)
    autos = {run["seed"]: run for run in growing if run["name"] == "auto"}
    targets = {
        seed: compute_to_target(auto[TARGET], scratch[seed], auto["compute_flops"])
        for seed, auto in autos.items()
        if seed in scratch
    }
    context = {
        "date": datetime.date.today().isoformat(),
        "machine": "; ".join(sorted({run.get("machine", machine()) for run in sweep.used.values()})),
        "versions": "; ".join(sorted({run.get("versions", "unrecorded") for run in sweep.used.values()})),
        "commit": git_commit(),
        "command": " ".join(["benchmarks/growth_efficiency.py", *sys.argv[1:]]),
        "runs": len(sweep.used),
        "run_hours": sum(run["seconds"] for run in sweep.used.values()) / 3600,
        "epochs": args.epochs,
        "scale": args.scale,
        "title": args.title,
    }
    section = efficiency_section(growing, fixed, scratch, targets, context)
    if args.notes:  # a reader's summary of these runs, kept beside the tables it reads
        title, rest = section.split("\n", 1)
        section = f"{title}\n\n{Path(args.notes).read_text().strip()}\n{rest}"
    print(section)
    write_section(args.doc, args.section, section)


if __name__ == "__main__":
    main()
