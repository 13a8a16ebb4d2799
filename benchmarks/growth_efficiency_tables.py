"""The markdown of the growth-efficiency section: compute to target, equal compute and ablations (mean ± sd over
seeds; differences are paired by seed, so the shared data order and initial weights cancel, and a difference is
marked when its mean exceeds its spread)."""

from __future__ import annotations

import statistics

ABLATION_LABELS = {
    "auto": "auto search (one round, preserve), every chunk",
    "halving": "auto search by successive halving, every chunk",
    "plateau": "auto search, only once the loss plateaus",
    "pim-0": "auto search, PIM m=0 (fresh weights)",
    "pim-0.5": "auto search, PIM m=0.5",
    "pim-0.9": "auto search, PIM m=0.9",
    "pim-1": "auto search, PIM m=1 (plain inheritance)",
    "no-shared": "auto search without the shared encoder",
    "schedule": "hand schedule (both towers +1 layer at stage 3)",
    "random": "random candidate within the budget",
}
TARGET = "object_zeroshot"  # the metric the compute-to-target runs bracket
METRICS = [("object zero-shot (%)", "object_zeroshot", 1), ("union retrieval Rm (%)", "retrieval_Rm", 2)]


def spread(values: list[float], digits: int = 1, signed: bool = False) -> str:
    if not values:
        return "n/a"
    sign = "+" if signed else ""
    if len(values) == 1:
        return f"{values[0]:{sign}.{digits}f}"
    return f"{statistics.mean(values):{sign}.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def difference(values: list[float], digits: int) -> str:
    """A paired difference over seeds; ``*`` when its mean exceeds its standard deviation (needs 2+ seeds)."""
    text = spread(values, digits, signed=True)
    beyond = len(values) > 1 and abs(statistics.mean(values)) > statistics.stdev(values)
    return text + (" *" if beyond else "")


def by_seed(runs: list[dict], name: str) -> dict[int, dict]:
    return {run["seed"]: run for run in runs if run["name"] == name}


def paired(left: dict[int, dict], right: dict[int, dict], metric: str) -> list[float]:
    return [left[seed][metric] - right[seed][metric] for seed in sorted(left) if seed in right]


def compute_to_target_table(autos: dict, scratch: dict, targets: dict) -> str:
    lines = [
        "| seed | auto: object zero-shot | auto: compute (TFLOP) | scratch runs: compute vs auto -> object zero-shot "
        "| scratch compute to reach auto | saving |",
        "|---:|---:|---:|---|---:|---:|",
    ]
    for seed, auto in sorted(autos.items()):
        points = ", ".join(
            f"{p['compute_flops'] / auto['compute_flops']:.2f}x -> {p[TARGET]:.1f}"
            for p in sorted(scratch[seed], key=lambda p: p["compute_flops"])
        )
        target = targets[seed]
        needed = f"{target['needed'] / auto['compute_flops']:.2f}x" if target["needed"] else "outside the runs"
        saving = _percent(target["saving"])
        if target["bound"]:
            saving = f"{target['bound']} {saving}"
        lines.append(
            f"| {seed} | {auto[TARGET]:.1f} | {auto['compute_flops'] / 1e12:.1f} | {points} | {needed} | {saving} |"
        )
    lines.append(f"| all seeds | | | | | {saving_summary(list(targets.values()))} |")
    return "\n".join(lines)


def _percent(share: float) -> str:
    """A signed whole percentage; a share that rounds to zero reads +0%, never -0%."""
    return f"{round(share * 100) + 0:+d}%"


def saving_summary(targets: list[dict]) -> str:
    """Mean ± sd when every seed was bracketed; else the bound that holds for every seed."""
    if all(not t["bound"] for t in targets):
        return spread([t["saving"] * 100 for t in targets], 0) + "%"
    if all(t["bound"] != "less than" for t in targets):
        return f"at least {_percent(min(t['saving'] for t in targets))} in every seed"
    if all(t["bound"] != "more than" for t in targets):
        return f"at most {_percent(max(t['saving'] for t in targets))} in every seed"
    return "seeds disagree (see rows)"


def _metric_cells(runs: dict, reference: dict | None, is_reference: bool = False) -> str:
    """Each metric's mean ± sd, followed by its paired difference to ``reference`` (blank on the reference's row)."""
    cells = []
    for _, key, digits in METRICS:
        cells.append(spread([r[key] for r in runs.values()], digits))
        if reference is not None:
            cells.append("" if is_reference else difference(paired(runs, reference, key), digits))
    return " | ".join(cells)


def equal_compute_table(autos: dict, fixed: dict) -> str:
    header = " | ".join(label for label, _, _ in METRICS)
    lines = [
        f"| configuration | final parameters | compute vs auto | {header} | attribute zero-shot (%) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    groups = {
        "fixed-small (starting architecture)": {s: fixed[("small", s)] for s in autos},
        "fixed-large (auto's final architecture)": {s: fixed[("large", s)] for s in autos},
        "GrowCLIP auto": autos,
    }
    for label, runs in groups.items():
        ratio = [runs[s]["compute_flops"] / autos[s]["compute_flops"] for s in runs]
        params = sorted({run["parameters"] for run in runs.values()})
        lines.append(
            f"| {label} | {' / '.join(f'{p:,}' for p in params)} | {spread(ratio, 2)} | {_metric_cells(runs, None)} "
            f"| {spread([r['attribute_zeroshot'] for r in runs.values()])} |"
        )
    for label in ("fixed-small (starting architecture)", "fixed-large (auto's final architecture)"):
        other = groups[label]
        cells = " | ".join(f"**{difference(paired(autos, other, key), digits)}**" for _, key, digits in METRICS)
        lines.append(f"| **Δ auto − {label.split(' ')[0]}** | | | {cells} | |")
    return "\n".join(lines)


def ablation_table(growing: list[dict]) -> str:
    autos = by_seed(growing, "auto")
    header = " | ".join(f"{label} | Δ vs auto" for label, _, _ in METRICS)
    lines = [
        f"| configuration | compute vs auto | largest search fraction | final parameters | {header} "
        "| growths (first seed) |",
        "|---|---:|---:|---:|" + "---:|---:|" * len(METRICS) + "---|",
    ]
    for name, label in ABLATION_LABELS.items():
        runs = by_seed(growing, name)
        if not runs:
            continue
        ratio = [runs[s]["compute_flops"] / autos[s]["compute_flops"] for s in runs if s in autos]
        params = sorted({run["parameters"] for run in runs.values()})
        search = max(run["max_search_fraction"] for run in runs.values())
        first = runs[min(runs)]
        lines.append(
            f"| {label} | {spread(ratio, 2)} | {100 * search:.1f}% | {' / '.join(f'{p:,}' for p in params)} "
            f"| {_metric_cells(runs, autos, is_reference=name == 'auto')} | {'; '.join(first['growths']) or 'none'} |"
        )
    return "\n".join(lines)


NOT_RUN = "**Not measured in this sweep**: the runs it needs are not in the run store (see the text above the tables)."


def _paired(autos: dict, fixed: dict) -> dict:
    """The auto runs whose seed has both fixed runs (an unfinished sweep compares the seeds it has)."""
    return {seed: run for seed, run in autos.items() if all((kind, seed) in fixed for kind in ("small", "large"))}


def efficiency_section(growing: list[dict], fixed: dict, scratch: dict, targets: dict, context: dict) -> str:
    autos = by_seed(growing, "auto")
    seeds = ", ".join(str(s) for s in sorted(autos))
    recipe = " with the previous default recipe, `benchmarks/previous_default.py`: ER with a reservoir"
    recipe = recipe if context["scale"] == "default" else ", the preset's recipe"
    return f"""## {context.get("title", "Growth efficiency on the embedded stream")}

Written {context["date"]} on {context["machine"]} at commit {context["commit"]} ({context["versions"]}):
{len(autos)} seeds ({seeds}), the growing runs train {context["epochs"]:g} passes per chunk over the 6 chunks
(`growclip-hf run --scale {context["scale"]}`{recipe}); the {context["runs"]} runs
took {context["run_hours"]:.1f} h (training and evaluation, summed over runs).
Command: `.venv/bin/python {context["command"]}`

Accuracy is the final model's: object zero-shot top-1 (mean over the object tasks), attribute zero-shot top-1, and
retrieval Rm (mean of R@1/5/10 in both directions) over the union of the 6 chunks' test pairs. Compute is the
analytic training FLOPs (matrix products, forward and backward) including the growth search's proxy training. Cells
are mean ± standard deviation over the seeds; every Δ is a paired difference per seed, marked * when its mean
exceeds its standard deviation.

### (a) Compute to reach the same object zero-shot: auto growth against its final architecture from scratch

{compute_to_target_table(autos, scratch, targets) if targets else NOT_RUN}

The scratch model is trained on the same stream with the same recipe, its passes per chunk scaled to the compute
shown; the compute it needs for the auto run's object zero-shot is interpolated in log compute between the two runs
that bracket it.

### (b) Equal compute: auto growth against fixed architectures (GrowCLIP's two headline numbers)

{equal_compute_table(_paired(autos, fixed), fixed) if _paired(autos, fixed) else NOT_RUN}

GrowCLIP reports +2.3 points mean zero-shot top-1 (9 datasets) and +1.2 Flickr30K image-to-text R@1 against
fixed-architecture training, at a scale this benchmark does not reach.

### (c) Ablations of the growth choices

{ablation_table(growing)}
"""
