"""The precondition for growth to pay: which fixed width is best at which budget per chunk, on a stream whose demand
grows (``growclip_hf.data.benchmark.growing_concepts``: new emoji concepts every chunk, rendered afresh, zero-shot over
every concept seen so far on held-out renders).

Every arm gets the same FLOPs per chunk (steps = budget / training FLOPs per step, ``growth.flops``), a warmup-stable-
decay schedule per chunk (each chunk ends decayed, where it is evaluated) and a learning rate per width (µP-style:
hidden matrices at ``lr * base_width / width``). A growing model can only win where this map shows a crossover: a
smaller width best on the first chunks, a larger one on the last.

Cells are stored one by one in ``--store`` (JSON, resumable: a cell already there is skipped), so seeds and budgets
can be added later; ``--table-only`` prints the table of what is stored.

  .venv/bin/python benchmarks/precondition_map.py --widths 16 32 64 128 --budgets 0.1 0.32 1.0 --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from concept_runs import (  # noqa: E402
    CONTEXT,
    HELDOUT_PAIRS,
    add_recipe_arguments,
    heldout_pairs,
    mean_of_last,
    model_config,
    new_trainer,
    scores,
    stream_and_tokenizer,
    train_chunk,
)

from growclip_hf import GrowCLIPModel  # noqa: E402
from growclip_hf.growth.flops import parameter_count, steps_within_budget, training_flops_per_pair  # noqa: E402

STORE = Path(__file__).parent / "results" / "precondition_map.json"


def run_cell(width: int, budget: float, seed: int, args, stream, tokenizer, heldouts, pairs) -> dict:
    torch.manual_seed(seed)
    config = model_config(width, args.layers, args.image_size, args.patch_size, tokenizer)
    trainer = new_trainer(GrowCLIPModel(config), args.lr, args.base_width, args.batch_size, seed)
    steps = steps_within_budget(budget * 1e12, args.batch_size, config, text_tokens=CONTEXT)
    started, chunks = time.perf_counter(), []
    for chunk in range(stream.num_chunks):
        rng = np.random.default_rng([seed, chunk])  # the same pairs, in the same order, for every width
        losses = train_chunk(trainer, stream, chunk, steps, rng, tokenizer)
        result = scores(trainer.unwrapped_model, stream, chunk, heldouts[chunk], pairs[chunk], tokenizer)
        chunks.append({"chunk": chunk, **result, "final_loss": mean_of_last(losses)})
        print(
            f"  width {width} budget {budget} seed {seed} chunk {chunk}: {steps} steps, {result['zero_shot']:.1f} %",
            flush=True,
        )
    return {
        "width": width,
        "budget_tflop": budget,
        "seed": seed,
        "parameters": parameter_count(config),
        "flops_per_pair": training_flops_per_pair(config, CONTEXT),
        "steps_per_chunk": steps,
        "seconds": round(time.perf_counter() - started, 1),
        "chunks": chunks,
    }


def table(cells: list[dict]) -> str:
    """Per budget: zero-shot after each chunk per width (mean ± half-range over seeds), the best width marked."""
    lines = []
    budgets = sorted({c["budget_tflop"] for c in cells})
    widths = sorted({c["width"] for c in cells})
    chunks = max(len(c["chunks"]) for c in cells)
    best_rows = []
    for budget in budgets:
        lines.append(f"\nbudget {budget} TFLOP per chunk (zero-shot % over concepts seen, mean ± half-range, seeds)")
        lines.append(
            "| width | params | steps/chunk | " + " | ".join(f"after chunk {k + 1}" for k in range(chunks)) + " |"
        )
        lines.append("|---|---:|---:|" + "---:|" * chunks)
        means = {}
        for width in widths:
            runs = [c for c in cells if c["budget_tflop"] == budget and c["width"] == width]
            if not runs:
                continue
            row = []
            for k in range(chunks):
                values = [r["chunks"][k]["zero_shot"] for r in runs if len(r["chunks"]) > k]
                means[(width, k)] = statistics.fmean(values)
                spread = (max(values) - min(values)) / 2
                row.append(f"{means[(width, k)]:.1f} ± {spread:.1f} ({len(values)})")
            lines.append(
                f"| {width} | {runs[0]['parameters']:,} | {runs[0]['steps_per_chunk']} | " + " | ".join(row) + " |"
            )
        best = [max((w for w in widths if (w, k) in means), key=lambda w: means[(w, k)]) for k in range(chunks)]
        best_rows.append(f"| {budget} | " + " | ".join(str(w) for w in best) + " |")
    lines.append("\nbest width per budget and chunk")
    lines.append("| TFLOP/chunk | " + " | ".join(f"chunk {k + 1}" for k in range(chunks)) + " |")
    lines.append("|---|" + "---:|" * chunks)
    return "\n".join(lines + best_rows)


def paired(cells: list[dict]) -> str:
    """Per budget and chunk, each width against the next smaller one, seed by seed (a crossover changes the sign)."""
    by_key = {(c["width"], c["budget_tflop"], c["seed"]): c for c in cells}
    widths = sorted({c["width"] for c in cells})
    chunks = max(len(c["chunks"]) for c in cells)
    lines = ["\npaired differences, larger minus smaller width, per seed (points)"]
    lines.append("| TFLOP/chunk | widths | " + " | ".join(f"chunk {k + 1}" for k in range(chunks)) + " |")
    lines.append("|---|---|" + "---|" * chunks)
    for budget in sorted({c["budget_tflop"] for c in cells}):
        for small, large in zip(widths, widths[1:], strict=False):
            seeds = sorted(s for w, b, s in by_key if (w, b) == (small, budget) and (large, budget, s) in by_key)
            if not seeds:
                continue
            row = []
            for k in range(chunks):
                diffs = [
                    by_key[(large, budget, s)]["chunks"][k]["zero_shot"]
                    - by_key[(small, budget, s)]["chunks"][k]["zero_shot"]
                    for s in seeds
                ]
                row.append(" / ".join(f"{d:+.1f}" for d in diffs))
            lines.append(f"| {budget} | {large} - {small} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.1, 0.32, 1.0], help="TFLOP per chunk")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--chunks", type=int, default=3)
    add_recipe_arguments(parser)
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    store = json.loads(args.store.read_text()) if args.store.exists() else {"cells": []}
    if not args.table_only:
        stream, tokenizer = stream_and_tokenizer(args, args.chunks)
        heldouts = [stream.heldout(chunk) for chunk in range(args.chunks)]
        pairs = [heldout_pairs(stream, chunk, HELDOUT_PAIRS, tokenizer) for chunk in range(args.chunks)]
        setup = {k: v for k, v in vars(args).items() if k not in ("widths", "budgets", "seeds", "store", "table_only")}
        store["setup"] = {**setup, "threads": args.threads}
        for seed in args.seeds:
            for budget in args.budgets:
                for width in args.widths:
                    done = [
                        c for c in store["cells"] if (c["width"], c["budget_tflop"], c["seed"]) == (width, budget, seed)
                    ]
                    if done:
                        continue
                    cell = run_cell(width, budget, seed, args, stream, tokenizer, heldouts, pairs)
                    store["cells"].append(cell)
                    args.store.parent.mkdir(parents=True, exist_ok=True)
                    args.store.write_text(json.dumps(store, indent=1))
    print(f"setup: {store.get('setup')}")
    print(table(store["cells"]))
    print(paired(store["cells"]))


if __name__ == "__main__":
    main()
