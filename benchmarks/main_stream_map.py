"""Does the main job's stream ever ask for a larger model? Fixed widths on the embedded stream at a per-stage FLOP
budget, per stage.

The main job can only grow where growth pays, and growth pays only where the best fixed width changes along the
stream (docs/growth.md). This is the precondition measured on the main job's own stream (``growclip-hf run --scale
default``: the real-image chunks, ER with its reservoir), not on the growing-concepts stream: every width trains
exactly each stage's FLOP budget (``training.flops_per_stage``, a list that may grow stage by stage), no growth, and
each stage is scored as the main job scores it (object zero-shot, Fashion-MNIST and MNIST apart, union retrieval Rm).

Each run is a real CLI run in ``--work`` (resumable: a finished run is read, not trained again); its per-stage readings
are appended to ``--store`` (JSON lines, one per width, seed and budget schedule) and the tables are printed from it.

  .venv/bin/python benchmarks/main_stream_map.py --widths 32 64 --budgets 0.25 0.5 1 2 4 --seeds 0   # stored
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

CLI = str(Path(sys.executable).with_name("growclip-hf"))
STORE = Path(__file__).parent / "results" / "main_stream_map.jsonl"
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
REAL_IMAGE_TASKS = ("fashion_mnist", "mnist_digits")


def width_overrides(width: int) -> list[str]:
    """Both towers (and the unused shared encoder) at ``width``, MLP 4x, projection ``width``; heads as the preset."""
    sets = [f"model.projection_dim={width}"]
    for tower in ("vision_config", "text_config", "shared_config"):
        sets += [f"model.{tower}.hidden_size={width}", f"model.{tower}.intermediate_size={4 * width}"]
    return [arg for value in sets for arg in ("--set", value)]


def run_command(width: int, seed: int, budgets: list[float], out: Path, data: Path) -> list[str]:
    flops = "[" + ",".join(f"{b * 1e12:.4g}" for b in budgets) + "]"
    command = [CLI, "run", "--scale", "default", "--stages", str(len(budgets)), "--policy", "none"]
    command += ["--seed", str(seed), "--output-dir", str(out), "--data-dir", str(data), "--no-local-hub"]
    command += ["--set", f"training.flops_per_stage={flops}", *width_overrides(width)]
    return command + (["--resume"] if (out / "checkpoints").is_dir() else [])


def readings(out: Path) -> list[dict]:
    """Per stage: object and attribute zero-shot, the real-image tasks, union Rm, cumulative TFLOP."""
    results = json.loads((out / "eval_results.json").read_text())
    stages = [json.loads(line) for line in (out / "stages.jsonl").read_text().splitlines() if line.strip()]
    rows = []
    for stage, flops in zip(results["stages"], stages, strict=True):
        rows.append(
            {
                "stage": stage["index"],
                "object_zeroshot": stage["zeroshot_by_kind"]["object"]["mean_top1"],
                "attribute_zeroshot": stage["zeroshot_by_kind"]["attribute"]["mean_top1"],
                **{task: stage["zeroshot"][task]["top1"] for task in REAL_IMAGE_TASKS},
                "union_R@1": (stage["union_retrieval"]["i2t_R@1"] + stage["union_retrieval"]["t2i_R@1"]) / 2,
                "union_Rm": stage["union_retrieval"]["Rm"],
                "cumulative_tflop": (flops["train_flops"] + flops["search_flops"]) / 1e12,
                "parameters": flops["parameters"],
                "architecture": flops.get("architecture"),
            }
        )
    return rows


def load(store: Path) -> list[dict]:
    return [json.loads(line) for line in store.read_text().splitlines() if line.strip()] if store.exists() else []


def _mean(runs: list[dict], width: int, key: str, stage: int | None = None) -> float:
    mine = [r for r in runs if r["width"] == width]
    return statistics.fmean(r[key] if stage is None else r["stages"][stage][key] for r in mine)


def tables(runs: list[dict], budgets: list[float]) -> str:
    runs = [r for r in runs if r["budgets"] == budgets]
    if not runs:
        return f"no stored run at budgets {budgets}"
    widths = sorted({r["width"] for r in runs})
    stages = range(len(budgets))
    cumulative = [round(sum(budgets[: k + 1]), 2) for k in stages]
    lines = [f"budgets per stage {budgets} TFLOP (cumulative {cumulative}); mean over seeds (parameters, seeds)"]
    for key, label in (
        ("object_zeroshot", "object zero-shot (%)"),
        ("fashion_mnist", "Fashion-MNIST zero-shot (%)"),
        ("mnist_digits", "MNIST zero-shot (%)"),
        ("union_Rm", "union retrieval Rm (%)"),
    ):
        lines += ["", label, "| width | " + " | ".join(f"stage {k}" for k in stages) + " |"]
        lines.append("|---|" + "---:|" * len(stages))
        for width in widths:
            mine = [r for r in runs if r["width"] == width]
            cells = [f"{_mean(runs, width, key, k):.1f}" for k in stages]
            params = mine[0]["stages"][0]["parameters"]
            lines.append(f"| {width} ({params:,}, {len(mine)}) | " + " | ".join(cells) + " |")
    best = [max(widths, key=lambda w, k=k: _mean(runs, w, "object_zeroshot", k)) for k in stages]
    lines += ["", "best width per stage (object zero-shot): " + ", ".join(str(w) for w in best)]
    crossover = len(set(best)) > 1 and best[-1] > best[0]
    lines.append(f"crossover (a smaller width best early, a larger one late): {'yes' if crossover else 'no'}")
    walls = ", ".join(f"width {w}: {_mean(runs, w, 'seconds'):.0f} s" for w in widths)
    lines.append(f"wall time per run (training and evaluation, {os.cpu_count()} cores shared): {walls}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0, 8.0], help="TFLOP per stage")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/growclip-main-stream-map"))
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (2 runs share 2 cores)")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, **OFFLINE, "OMP_NUM_THREADS": str(args.threads)}
    for seed in [] if args.table_only else args.seeds:
        for width in args.widths:
            done = {(r["width"], r["seed"]) for r in load(args.store) if r["budgets"] == args.budgets}
            if (width, seed) in done:
                continue
            key = "-".join(f"{b:g}" for b in args.budgets)
            out = args.work / f"w{width}-seed{seed}-b{key}"
            if not (out / "eval_results.json").is_file():
                out.mkdir(parents=True, exist_ok=True)
                started = time.perf_counter()
                with open(out.parent / f"{out.name}.log", "a") as log:
                    command = run_command(width, seed, args.budgets, out, args.work / "data")
                    subprocess.run(command, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)
                (out / "wall_seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
            record = {"width": width, "seed": seed, "budgets": args.budgets, "stages": readings(out)}
            record["seconds"] = float((out / "wall_seconds.txt").read_text())
            args.store.parent.mkdir(parents=True, exist_ok=True)
            with args.store.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(f"  width {width} seed {seed}: {record['stages'][-1]['object_zeroshot']:.1f} % object zero-shot")
    print(tables(load(args.store), args.budgets))


if __name__ == "__main__":
    main()
