"""Why does the late growth end short of width 32? Variants of the last chunk on the growing-concepts stream.

On the growth sweep's stream and budgets (``growth_sweep.py``), the compute policy grows width 16 to 32 before the last
chunk (the ``hand-late`` schedule) and ends 1.7 points object zero-shot short of width 32 trained from the start.
Each variant here changes only the last chunk of one of those two runs, so every variant of a seed shares its first
chunks with the sweep's runs of that seed (the same pairs, the same steps):

- ``late-W``: grow to width W before the last chunk (``late-32`` is what the sweep's ``auto-compute-width`` run does);
- ``...-peak``: the last chunk starts at its peak rate, no warmup (LEMON keeps the peak rate after growth: the grown
  model computes what the trained one did and carries its AdamW state);
- ``...-lrX``: the last chunk's peak rate times X (every parameter group);
- ``fixed-32-...``: the same change to the last chunk of width 32 trained from the start (is it about growth, or
  about the recipe?).

  .venv/bin/python benchmarks/late_growth_probe.py --variants late-32-peak --seeds 0 1 2
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

from concept_runs import add_recipe_arguments, heldout_pairs, model_config, stream_and_tokenizer, widened  # noqa: E402
from growth_sweep import BUDGETS, SEARCH_HELDOUT, Run, load, setup_key  # noqa: E402
from growth_sweep_tables import mark_difference, seed_values  # noqa: E402

STORE = Path(__file__).parent / "results" / "late_growth_probe.jsonl"


def parse_variant(name: str) -> dict:
    """``late-40-peak-lr1.5`` -> start width, width in the last chunk, no warmup, rate factor."""
    parts = name.split("-")
    if parts[0] not in ("late", "fixed") or len(parts) < 2 or not parts[1].isdigit():
        raise ValueError(f"Variant {name!r}: write late-W[-peak][-lrX] or fixed-W[-peak][-lrX].")
    options = parts[2:]
    factors = [float(o[2:]) for o in options if o.startswith("lr")]
    unknown = [o for o in options if o != "peak" and not o.startswith("lr")]
    if unknown:
        raise ValueError(f"Variant {name!r}: unknown option(s) {unknown}; known: peak, lrX.")
    width = int(parts[1])
    return {
        "start": 16 if parts[0] == "late" else width,
        "last": width,
        "peak": "peak" in options,
        "lr_factor": factors[0] if factors else 1.0,
    }


def run_variant(name: str, seed: int, args, stream, tokenizer, heldouts, pairs) -> dict:
    variant, started = parse_variant(name), time.perf_counter()
    config = model_config(variant["start"], args.layers, args.image_size, args.patch_size, tokenizer)
    run = Run(name, seed, config, args, stream, tokenizer)
    last = len(args.budgets) - 1
    for chunk, budget in enumerate(args.budgets):
        warmup = None
        if chunk == last:
            if variant["last"] > run.config.vision_config.hidden_size:
                run.grow(widened(run.config, variant["last"]), chunk)
            run.trainer.config.learning_rate *= variant["lr_factor"]
            warmup = 0 if variant["peak"] else None
        run.train(chunk, budget * 1e12, 0.0, heldouts, pairs, warmup=warmup)
    return {
        "variant": name,
        "seed": seed,
        "setup": setup_key(args),
        "chunks": run.chunks,
        "seconds": round(time.perf_counter() - started, 1),
    }


# the sweep's runs that the variants change; auto-compute-width keeps before chunk 2 and grows to width 32 before
# chunk 3 (hand-late's schedule), so it is late-32 at the recipe's rate
SWEEP_ARMS = {"auto-compute-width": "late-32", "fixed-16": "fixed-16", "fixed-32": "fixed-32", "fixed-64": "fixed-64"}


def rows(records: list[dict], sweep: list[dict], over: str) -> dict[str, dict[int, float]]:
    """Object zero-shot per variant and seed: after the last chunk (``over="last"``) or the mean over chunks."""
    runs: dict[str, dict[int, dict]] = {}
    for record in sweep:
        if record["arm"] in SWEEP_ARMS:
            runs.setdefault(SWEEP_ARMS[record["arm"]], {})[record["seed"]] = record
    for record in records:
        runs.setdefault(record["variant"], {})[record["seed"]] = record
    chunk = -1 if over == "last" else None
    return {name: seed_values(by_seed, "zero_shot", chunk) for name, by_seed in runs.items()}


def table(found: dict[str, dict[int, float]], title: str) -> str:
    seeds = sorted({s for row in found.values() for s in row})
    lines = [title, "", "| variant | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |"]
    lines.append("|---|" + "---:|" * (len(seeds) + 1))
    for name in sorted(found):
        row = found[name]
        cells = [f"{row[s]:.1f}" if s in row else "-" for s in seeds]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {statistics.fmean(row.values()):.1f} |")
    return "\n".join(lines)


def paired(found: dict[str, dict[int, float]], grown: str, fixed: str) -> str:
    """``grown - fixed`` over their common seeds, as the sweep's tables mark it (``mark_difference``)."""
    seeds = sorted(set(found.get(grown, {})) & set(found.get(fixed, {})))
    if len(seeds) < 2:
        return f"{grown} - {fixed}: fewer than 2 common seeds"
    differences = [found[grown][s] - found[fixed][s] for s in seeds]
    by_seed = ", ".join(f"{d:+.1f}" for d in differences)
    return f"{grown} - {fixed}: {mark_difference(differences)} ({len(seeds)} seeds: {by_seed})"


def report(records: list[dict], sweep: list[dict]) -> str:
    """Both tables, and the grown run against every fixed width at the same rate (the recipe's, and 1.5x)."""
    out = []
    for over, title in (("last", "after the last chunk"), ("mean", "mean over chunks")):
        found = rows(records, sweep, over)
        out.append(table(found, f"object zero-shot over concepts seen (%), {title}"))
        out.append("")
        for suffix in ("", "-lr1.5"):
            for width in (16, 32, 64):
                out.append("- " + paired(found, f"late-32{suffix}", f"fixed-{width}{suffix}"))
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=["late-32-peak"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budgets", type=float, nargs="+", default=BUDGETS, help="TFLOP per chunk (the sweep's)")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64], help="the sweep's (its store key)")
    parser.add_argument("--search-fraction", type=float, default=0.15, help="the sweep's (its store key)")
    add_recipe_arguments(parser)
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    for name in args.variants:
        parse_variant(name)  # a bad name stops here, before any training
    setup = setup_key(args)  # the sweep's: the same stream, budgets and recipe
    stored = load(args.store, setup)
    if not args.table_only:
        stream, tokenizer = stream_and_tokenizer(args, len(args.budgets))
        heldouts = [stream.heldout(chunk) for chunk in range(len(args.budgets))]
        pairs = [heldout_pairs(stream, chunk, SEARCH_HELDOUT, tokenizer) for chunk in range(len(args.budgets))]
        for seed in args.seeds:
            for name in args.variants:
                if any((r["variant"], r["seed"]) == (name, seed) for r in stored):
                    continue
                record = run_variant(name, seed, args, stream, tokenizer, heldouts, pairs)
                stored.append(record)
                args.store.parent.mkdir(parents=True, exist_ok=True)
                with args.store.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
    print(report(stored, load(Path(__file__).parent / "results" / "growth_sweep.jsonl", setup)))


if __name__ == "__main__":
    main()
