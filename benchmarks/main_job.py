"""The main job's claim, measured: the default recipe of ``growclip-hf run --scale default`` against plain fine-tuning
(SeqF), joint training on everything seen (JointT), CTP, Mod-X and the Oracle (the default run's final architecture
trained from scratch on all data, ``growclip-hf oracle``), over seeds, on object zero-shot, retrieval, forgetting and
compute.

Every run is a real CLI run on one shared build of the embedded stream; a run whose results exist is not run again,
so the script can be stopped and restarted. The summary (one JSON file, committed) and the tables in docs/results.md
come from the run folders.

Run: .venv/bin/python benchmarks/main_job.py [--seeds 0 1 2] [--variants default oracle seqf jointt ctp modx]
     [--store /tmp/growclip-main-job] [--doc docs/results.md]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import previous_default  # noqa: E402
from doc_sections import git_commit, machine, mean_spread, write_section  # noqa: E402
from growth_sweep_tables import mark_difference  # noqa: E402
from main_stream_map import readings, width_overrides  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
CLI = str(Path(sys.executable).with_name("growclip-hf"))
# The previous default recipe (width 128, the search once the loss plateaus: previous_default.py), and the same with
# one round of the search at every chunk, the default before that. The strategies were compared on it.
PREVIOUS = previous_default.set_args("default")
EVERY = [*PREVIOUS, "--set", "growth.trigger=every", "--set", "growth.method=single"]
GROWN_HEADS = ["--set", "model.vision_config.num_attention_heads=8", "--set", "model.text_config.num_attention_heads=8"]
VARIANTS = {
    # The preset's recipe: a FLOP budget per chunk that grows, compute-optimal growth from width 32 (preserve), ER.
    "default": [],
    # The same budgets at one width all along: the default's start (the best fixed width on this stream at these
    # budgets, benchmarks/main_stream_map.py) and the width it grows to.
    "fixed-32": ["--policy", "none"],
    "fixed-64": ["--policy", "none", *width_overrides(64), *GROWN_HEADS],
    "jointt": ["--strategy", "jointt"],  # every pair seen so far at every stage, at the default's compute per chunk
    # The default's growth initialised by PIM with momentum 0.9 instead of function-preservingly.
    "default-pim": ["--set", "growth.init=pim", "--set", "growth.momentum=0.9"],
    "previous-default": PREVIOUS,
    "every-chunk": EVERY,
    "seqf": ["--strategy", "seqf", *EVERY],
    "jointt-every-chunk": ["--strategy", "jointt", *EVERY],
    "ctp": ["--strategy", "ctp", *EVERY],
    "modx": ["--strategy", "modx", *EVERY],
    # ER inside a fixed step budget: 98 steps per chunk (2 passes over an average chunk alone), the reservoir's pairs
    # sampled in proportion instead of added on top (TiC-CLIP's equal-compute replay); and the same with 160 steps.
    "er-budget": [*EVERY, "--set", "training.steps_per_stage=98"],
    "er-budget-160": [*EVERY, "--set", "training.steps_per_stage=160"],
}
# The Oracle of a recipe: that run's final architecture from scratch on all data seen, at every stage (at the run's
# cumulative compute where the run has a FLOP budget per chunk).
ORACLE_OF = {"oracle": "default", "oracle-previous-default": "previous-default", "oracle-every-chunk": "every-chunk"}
# Where the previous recipe's stored columns were measured (re-running them with previous_default.py adds seeds).
PREVIOUS_MEASURED = (
    "Measured by `benchmarks/main_job.py` at commit 17b8f2d (the previous default recipe) on AMD EPYC, 2 cores, "
    "Linux 6.18.44-fc-v1252.\n\n"
)
CURRENT = ("default", "default-pim", "fixed-32", "fixed-64", "jointt", "oracle")
PREVIOUS_COLUMNS = (
    *("previous-default", "every-chunk", "er-budget-160", "er-budget", "seqf", "jointt-every-chunk", "ctp", "modx"),
    *("oracle-previous-default", "oracle-every-chunk"),
)
ORDER = (*CURRENT, *PREVIOUS_COLUMNS)
SUMMARY = ROOT / "docs" / "main_job_runs.json"
PLOT = ROOT / "docs" / "main_job_compute.png"
COLOURS = {
    "default": "tab:blue",
    "fixed-32": "tab:orange",
    "fixed-64": "tab:brown",
    "jointt": "tab:green",
    "oracle": "tab:red",
    "previous-default": "tab:cyan",
    "oracle-previous-default": "tab:pink",
}


def run_variant(store: Path, variant: str, seed: int) -> Path:
    out = store / f"{variant}-seed{seed}"
    done = out / ("oracle.json" if variant in ORACLE_OF else "eval_results.json")
    if done.is_file():
        return out
    if variant in ORACLE_OF:
        command = [CLI, "oracle", str(run_variant(store, ORACLE_OF[variant], seed)), "--output-dir", str(out)]
    else:
        command = [CLI, "run", "--scale", "default", "--seed", str(seed), "--output-dir", str(out)]
        command += ["--data-dir", str(store / "data"), "--no-local-hub", *VARIANTS[variant]]
    if out.exists() and (out / "checkpoints").is_dir():
        command.append("--resume")
    print(f"$ {' '.join(command)}", flush=True)
    started = time.perf_counter()
    with open(store / f"{variant}-seed{seed}.log", "w") as log:
        subprocess.run(command, env=ENV, check=True, stdout=log, stderr=subprocess.STDOUT)
    (out / "wall_seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
    return out


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def measure(out: Path, variant: str) -> dict:
    results = _json(out / "eval_results.json")
    last = results["stages"][-1]
    row = {
        "object_zeroshot": results["headline"]["object_zeroshot_top1"],
        "attribute_zeroshot": results["headline"]["attribute_zeroshot_top1"],
        "union_R@1": results["headline"]["retrieval_R@1"],
        "union_Rm": results["headline"]["retrieval_Rm"],
        "per_object_task": {
            name: last["zeroshot"][name]["top1"] for name in results["zeroshot_kinds"]["object"]["tasks"]
        },
        "chance_object": results["headline"]["object_zeroshot_chance"],
    }
    wall = out / "wall_seconds.txt"
    row["wall_seconds"] = float(wall.read_text()) if wall.is_file() else None
    if variant in ORACLE_OF:
        oracle = _json(out / "oracle.json")
        row["cumulative_tflop"] = oracle["oracle_cumulative_flops"][-1] / 1e12
        row["single_training_tflop"] = oracle["oracle_flops_per_stage"][-1] / 1e12
    else:
        continual = results["continual"]
        row["retrieval_forgetting"] = continual["retrieval_Rm"]["forgetting"]
        row["object_forgetting"] = continual["zeroshot_top1_object"]["forgetting"]
        row["stages"] = readings(out)
        row["cumulative_tflop"] = row["stages"][-1]["cumulative_tflop"]
        row["final_parameters"] = row["stages"][-1]["parameters"]
    return row


def spread(values: list[float]) -> str:
    return mean_spread(values, digits=2, single=" (1 seed)")


METRICS = [
    ("object zero-shot top-1 (%)", "object_zeroshot"),
    ("attribute zero-shot top-1 (%)", "attribute_zeroshot"),
    ("union retrieval R@1 (%)", "union_R@1"),
    ("union retrieval Rm (%)", "union_Rm"),
    ("retrieval forgetting (Rm points)", "retrieval_forgetting"),
    ("object zero-shot forgetting (points)", "object_forgetting"),
    ("cumulative training compute (TFLOP)", "cumulative_tflop"),
]


def table(summary: dict, columns: tuple[str, ...]) -> str:
    """Final-stage metrics and object tasks of ``columns`` (those with runs), mean ± spread over seeds."""
    variants = [v for v in columns if summary.get(v)]
    if not variants:
        return "(no runs)"
    lines = ["| metric | " + " | ".join(variants) + " |", "|---|" + "---:|" * len(variants)]
    for label, key in METRICS:
        cells = [spread([row[key] for row in summary[v].values() if row.get(key) is not None]) for v in variants]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    seeds = ", ".join(f"{v}: {sorted(summary[v])}" for v in variants)
    tasks = sorted({task for v in variants for row in summary[v].values() for task in row["per_object_task"]})
    task_lines = ["| object task | " + " | ".join(variants) + " |", "|---|" + "---:|" * len(variants)]
    for task in tasks:
        cells = [
            spread([row["per_object_task"][task] for row in summary[v].values() if task in row["per_object_task"]])
            for v in variants
        ]
        task_lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nSeeds per column: {seeds}.\n\n" + "\n".join(task_lines)


STAGED = ("default", "default-pim", "fixed-32", "fixed-64", "jointt")
FIXED = ("fixed-32", "fixed-64")


def paired(summary: dict, variant: str, other: str, stage: int) -> str:
    """``variant`` minus ``other`` on object zero-shot at ``stage``, paired by seed; † where |mean| > spread."""
    seeds = sorted(set(summary[variant]) & set(summary[other]))
    return mark_difference(
        [
            summary[variant][s]["stages"][stage]["object_zeroshot"]
            - summary[other][s]["stages"][stage]["object_zeroshot"]
            for s in seeds
        ]
    )


def stage_table(summary: dict) -> str:
    """Per stage: the default's architecture, and object zero-shot of the default, each fixed width and JointT, all
    at the default's FLOPs per chunk; then the default minus the best fixed width of that stage, paired by seed."""
    staged = [v for v in STAGED if summary.get(v) and all("stages" in row for row in summary[v].values())]
    if "default" not in staged:
        return "(no default runs with per-stage readings)"
    fixed = [v for v in FIXED if v in staged]
    header = "| stage | default's architecture | parameters | " + " | ".join(staged)
    header += " | default minus the best fixed width |" if fixed else " |"
    lines = [header, "|---:|---|---:|" + "---:|" * (len(staged) + bool(fixed))]

    def object_zeroshot(variant: str, stage: int | None = None) -> float:
        """Mean over seeds of one stage's object zero-shot, or (stage None) of its mean over stages."""
        return statistics.fmean(
            statistics.fmean(st["object_zeroshot"] for st in row["stages"])
            if stage is None
            else row["stages"][stage]["object_zeroshot"]
            for row in summary[variant].values()
        )

    for stage, _ in enumerate(next(iter(summary["default"].values()))["stages"]):
        rows = [row["stages"][stage] for row in summary["default"].values()]
        architectures = " / ".join(sorted({row["architecture"] for row in rows}))
        parameters = " / ".join(f"{p:,}" for p in sorted({row["parameters"] for row in rows}))
        cells = [spread([row["stages"][stage]["object_zeroshot"] for row in summary[v].values()]) for v in staged]
        line = f"| {stage} | {architectures} | {parameters} | " + " | ".join(cells) + " |"
        if fixed:
            best = max(fixed, key=lambda v: object_zeroshot(v, stage))
            line += f" {paired(summary, 'default', best, stage)} ({best}) |"
        lines.append(line)
    footer = "Mean over stages: " + ", ".join(f"{v} {object_zeroshot(v):.1f}" for v in staged) + "."
    return "\n".join(lines) + "\n\n" + footer


def run_table(out: Path) -> str:
    """One run stage by stage (the README's table): architecture, parameters, cumulative compute, the zero-shot kinds
    and union retrieval."""
    lines = [
        "| stage | architecture (layers x width / heads / MLP) | parameters | cumulative TFLOP "
        "| object zero-shot top-1 (%) | attribute zero-shot top-1 (%) | union retrieval R@1 (%) | union Rm (%) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in readings(out):
        lines.append(
            f"| {row['stage']} | {row['architecture']} | {row['parameters']:,} | {row['cumulative_tflop']:.2f} | "
            f"{row['object_zeroshot']:.1f} | {row['attribute_zeroshot']:.1f} | {row['union_R@1']:.2f} | "
            f"{row['union_Rm']:.2f} |"
        )
    headline = _json(out / "eval_results.json")["headline"]
    chance = (
        f"| chance | | | | {headline['object_zeroshot_chance']:.1f} | {headline['attribute_zeroshot_chance']:.1f} | | |"
    )
    return "\n".join([*lines, chance])


def plot(summary: dict, path: Path) -> None:
    """Final object zero-shot and union retrieval Rm against cumulative training compute, one point per seed."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 4))
    for axis, (key, label) in zip(
        figure.subplots(1, 2),
        [("object_zeroshot", "object zero-shot top-1 (%)"), ("union_Rm", "union retrieval Rm (%)")],
        strict=True,
    ):
        for variant, rows in summary.items():
            xs = [row["cumulative_tflop"] for row in rows.values()]
            ys = [row[key] for row in rows.values()]
            axis.scatter(xs, ys, label=variant, color=COLOURS.get(variant), s=30)
        if key == "object_zeroshot" and summary:
            chance = next(iter(next(iter(summary.values())).values()))["chance_object"]
            axis.axhline(chance, color="grey", linestyle=":", label="chance")
        axis.set_xlabel("cumulative training compute (TFLOP)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    handles, labels = figure.axes[0].get_legend_handles_labels()  # the left panel's, chance line included
    figure.legend(handles, labels, loc="center right", fontsize="small")  # beside the panels: no point hidden
    figure.suptitle("Final stage of the main job (default scale), one point per seed")
    figure.tight_layout(rect=(0, 0, 0.84, 1))
    figure.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(ORDER), choices=ORDER)
    parser.add_argument("--store", default="/tmp/growclip-main-job")
    parser.add_argument("--doc", default=None, help="Write the tables into this markdown file's section.")
    parser.add_argument("--summarise-only", action="store_true", help="Tabulate the runs that exist; train nothing.")
    args = parser.parse_args()
    store = Path(args.store)
    store.mkdir(parents=True, exist_ok=True)
    summary = _json(SUMMARY) if SUMMARY.is_file() else {}
    for seed in args.seeds:
        for variant in args.variants:
            out = store / f"{variant}-seed{seed}"
            if not args.summarise_only:
                out = run_variant(store, variant, seed)
            if (out / "eval_results.json").is_file() and (variant not in ORACLE_OF or (out / "oracle.json").is_file()):
                summary.setdefault(variant, {})[str(seed)] = measure(out, variant)
                SUMMARY.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    current = stage_table(summary) + "\n\n" + table(summary, CURRENT)
    previous = table(summary, PREVIOUS_COLUMNS)
    seed0 = Path(args.store) / "default-seed0"
    one_run = run_table(seed0) if (seed0 / "eval_results.json").is_file() else ""
    print(f"The default run of seed 0, stage by stage:\n\n{one_run}\n\n{current}")
    print("\nThe previous default and the strategies compared on it:\n\n" + previous)
    plot({v: rows for v, rows in summary.items() if v in COLOURS}, PLOT)
    if args.doc:
        header = f"Measured by `benchmarks/main_job.py` at commit {git_commit()} on {machine()}.\n\n"
        if one_run:
            write_section(args.doc, "main-job-seed0", header + one_run, header=None)
        write_section(args.doc, "main-job", header + current, header=None)
        write_section(args.doc, "main-job-previous", PREVIOUS_MEASURED + previous, header=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
