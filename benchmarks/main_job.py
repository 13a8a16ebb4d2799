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
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc_sections import git_commit, machine, mean_spread, write_section  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
CLI = str(Path(sys.executable).with_name("growclip-hf"))
# The previous default: one round of the search at every chunk boundary (the preset now decides by successive halving,
# and only on plateaus).
EVERY = ["--set", "growth.trigger=every", "--set", "growth.method=single"]
VARIANTS = {
    "default": [],  # the preset's recipe: auto growth searched once the loss plateaus, ER with a 5,000-pair reservoir
    "every-chunk": EVERY,  # the previous default: the same with the search at every chunk
    # The strategies were compared with the search at every chunk (the default when they ran).
    "seqf": ["--strategy", "seqf", *EVERY],
    "jointt": ["--strategy", "jointt", *EVERY],
    "ctp": ["--strategy", "ctp", *EVERY],
    "modx": ["--strategy", "modx", *EVERY],
    # ER inside a fixed step budget: 98 steps per chunk (2 passes over an average chunk alone), the reservoir's pairs
    # sampled in proportion instead of added on top (TiC-CLIP's equal-compute replay); and the same with 160 steps.
    "er-budget": ["--set", "training.steps_per_stage=98", *EVERY],
    "er-budget-160": ["--set", "training.steps_per_stage=160", *EVERY],
}
# The Oracle of a recipe: that run's final architecture from scratch on all data seen, at every stage.
ORACLE_OF = {"oracle": "default", "oracle-every-chunk": "every-chunk"}
SUMMARY = ROOT / "docs" / "main_job_runs.json"
PLOT = ROOT / "docs" / "main_job_compute.png"
COLOURS = {
    "default": "tab:blue",
    "seqf": "tab:orange",
    "jointt": "tab:green",
    "ctp": "tab:purple",
    "modx": "tab:brown",
    "er-budget": "tab:cyan",
    "er-budget-160": "tab:olive",
    "every-chunk": "tab:pink",
    "oracle-every-chunk": "tab:gray",
    "oracle": "tab:red",
}
ORDER = (
    *("default", "every-chunk", "er-budget-160", "er-budget", "seqf", "jointt", "ctp", "modx"),
    *("oracle", "oracle-every-chunk"),
)


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
        stages = [json.loads(line) for line in (out / "stages.jsonl").read_text().splitlines() if line.strip()]
        row["cumulative_tflop"] = (stages[-1]["train_flops"] + stages[-1]["search_flops"]) / 1e12
        row["final_parameters"] = stages[-1]["parameters"]
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


def table(summary: dict) -> str:
    variants = [v for v in ORDER if summary.get(v)]
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
    text = table(summary)
    print(text)
    plot(summary, PLOT)
    if args.doc:
        header = f"Measured by `benchmarks/main_job.py` at commit {git_commit()} on {machine()}.\n\n"
        write_section(args.doc, "main-job", header + text, header=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
