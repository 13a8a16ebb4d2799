"""Forgetting table of the continual strategies, with and without growth, from real runs; writes docs/results.md.

Run: .venv/bin/python benchmarks/continual_results.py [--epochs 1] [--seeds 0] [--out outputs/results]
Each configuration is a real `growclip-hf run --scale default` over the 6 chunks of the embedded stream.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc_sections import mean_spread  # noqa: E402
from previous_default import set_args  # noqa: E402

STRATEGIES = ("seqf", "jointt", "er", "ctp", "modx")
POLICIES = ("none", "auto")
METRICS = (("retrieval_Rm", "retrieval Rm"), ("zeroshot_top1", "zero-shot top-1"))


def run_command(strategy: str, policy: str, seed: int, epochs: float, folder: Path, data_dir: Path) -> list[str]:
    """The CLI run of one cell: the previous default recipe (what the stored table used), then the cell's policy and
    passes (set after the recipe, so that they win over it)."""
    command = [sys.executable, "-m", "growclip_hf.cli", "run", "--scale", "default", "--output-dir", str(folder)]
    command += ["--data-dir", str(data_dir), "--strategy", strategy, "--seed", str(seed), *set_args("default")]
    command += ["--set", f"growth.policy={policy}", "--set", f"training.epochs_per_stage={epochs}", "--resume"]
    return command


def run_one(strategy: str, policy: str, seed: int, epochs: float, out: Path, data_dir: Path) -> dict:
    folder = out / f"{strategy}-{policy}-seed{seed}"
    command = run_command(strategy, policy, seed, epochs, folder, data_dir)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"{strategy}/{policy} failed:\n{result.stderr[-3000:]}")
    evaluation = json.loads((folder / "eval_results.json").read_text())
    final_params = evaluation["stages"][-1]["parameters"]
    return {
        "strategy": strategy,
        "policy": policy,
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "parameters": final_params,
        "continual": evaluation["continual"],
    }


def _cell(values: list[float]) -> str:
    return mean_spread(values, digits=1)


def table(results: list[dict]) -> str:
    header = "| strategy | growth | final params |"
    rule = "|---|---|---:|"
    for _, label in METRICS:
        header += f" {label}: final avg | forgetting | BWT |"
        rule += "---:|---:|---:|"
    lines = [header, rule]
    for strategy in STRATEGIES:
        for policy in POLICIES:
            rows = [r for r in results if r["strategy"] == strategy and r["policy"] == policy]
            if not rows:
                continue
            line = f"| {strategy} | {policy} | {rows[0]['parameters']:,} |"
            for key, _ in METRICS:
                for field in ("final_average", "forgetting", "backward_transfer"):
                    values = [r["continual"][key][field] for r in rows if r["continual"][key][field] is not None]
                    line += f" {_cell(values)} |"
            lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=float, default=1.0, help="Passes per chunk (the main job uses 5).")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default="outputs/results")
    parser.add_argument("--data-dir", default="outputs/results/data")
    parser.add_argument("--doc", default="docs/results.md")
    parser.add_argument("--store", default="docs/results_runs.json", help="Finished runs (kept, not redone).")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=POLICIES)
    args = parser.parse_args()
    out, data_dir = Path(args.out), Path(args.data_dir)
    store = Path(args.store)
    results = json.loads(store.read_text()) if store.is_file() else []  # finished runs are kept, not redone
    done = {(r["strategy"], r["policy"], r["seed"]) for r in results}
    for seed in args.seeds:
        for strategy in args.strategies:
            for policy in args.policies:
                if (strategy, policy, seed) in done:
                    continue
                record = run_one(strategy, policy, seed, args.epochs, out, data_dir)
                print(json.dumps({k: record[k] for k in ("strategy", "policy", "seed", "seconds")}), flush=True)
                results.append(record)
                store.write_text(json.dumps(results, indent=2))
    command = " ".join(
        ["python benchmarks/continual_results.py", f"--epochs {args.epochs}", "--seeds", *map(str, args.seeds)]
    )
    write_doc(Path(args.doc), results, command, args.epochs)


def write_doc(path: Path, results: list[dict], command: str, epochs: float) -> None:
    import torch

    minutes = sum(r["seconds"] for r in results) / 60
    path.write_text(
        f"""# Continual-learning results

Generated by `{command}` on {datetime.date.today()} ({platform.machine()}, {os.cpu_count()} cores, CPU, fp32,
torch {torch.__version__}; {len(results)} runs, {minutes:.0f} minutes). Every run is `growclip-hf run --scale default`
over the 6 chunks of the embedded stream ({epochs:g} pass(es) per chunk; the main job uses 5), with `--strategy` and
`--policy none` (fixed architecture) or `--policy auto` (GrowCLIP growth). Metrics in percent, from the R matrix
R[t, j] = metric of the model after chunk t on chunk j's test split (retrieval Rm) or on zero-shot task j:
final average = mean_j R[T, j]; forgetting = mean over old tasks of (best earlier value - final value); BWT = mean
over old tasks of (final value - value right after learning it). Zero-shot tasks have no "right after learning",
so their BWT is n/a.

{table(results)}

## Reading the table

@@READING@@
"""
    )


if __name__ == "__main__":
    main()
