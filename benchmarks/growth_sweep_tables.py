"""Tables and the plot of ``growth_sweep.py``: per chunk and arm (mean ± half-range over seeds), paired differences of
auto against every other arm (marked where the mean exceeds the standard deviation of the per-seed differences), the
crossover of the fixed widths, auto's decisions, and the issue's two verdicts."""

from __future__ import annotations

import statistics
from pathlib import Path

# the arms that decide by themselves
SEARCHING = ("auto", "auto-warmup", "auto-ramp", "auto-slope", "auto-compute", "auto-compute-width")
SCHEDULED = ("hand", "hand-late")  # growth at a boundary chosen by hand: is there a schedule that pays at all?
METRICS = (("zero_shot", "object zero-shot over concepts seen (%)"), ("retrieval_Rm", "retrieval Rm (%)"))


def scratch_twin(auto: dict, widths: list[int], layers: int) -> str | None:
    """The fixed arm that *is* auto's final architecture trained from scratch (same config, same seed), if any."""
    last = auto["chunks"][-1]
    return f"fixed-{last['width']}" if last["width"] in widths and last["layers"] == layers else None


def _by_arm(runs: list[dict], widths: list[int]) -> dict[str, dict[int, dict]]:
    arms: dict[str, dict[int, dict]] = {}
    for run in runs:
        arms.setdefault(run["arm"], {})[run["seed"]] = run
    layers = next((r["chunks"][0]["layers"] for r in runs if r["arm"].startswith("fixed-")), None)
    for seed, auto in arms.get("auto", {}).items():  # scratch = a fixed arm when auto ended at one of its widths
        twin = scratch_twin(auto, widths, layers) if layers is not None else None
        if twin and seed in arms.get(twin, {}):
            arms.setdefault("scratch", {})[seed] = {**arms[twin][seed], "arm": "scratch", "twin": twin}
    return arms


def _order(arms: dict) -> list[str]:
    fixed = sorted((a for a in arms if a.startswith("fixed-")), key=lambda a: int(a.split("-")[1]))
    return fixed + [a for a in (*SEARCHING, *SCHEDULED, "random", "scratch") if a in arms] + _variants(arms)


def _variants(arms: dict) -> list[str]:
    """Growing arms with another growth initialisation (``ARM+pimM``), after the arms they vary."""
    return sorted(a for a in arms if "+" in a)


def seed_values(runs: dict[int, dict], key: str, chunk: int | None) -> dict[int, float]:
    """Per seed: the metric after ``chunk`` (``-1``: the last), or its mean over every chunk (``None``)."""
    out = {}
    for seed, run in runs.items():
        chunks = run["chunks"]
        out[seed] = statistics.fmean(c[key] for c in chunks) if chunk is None else chunks[chunk][key]
    return out


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.fmean(values):.1f} ± {(max(values) - min(values)) / 2:.1f}"


def tables(runs: list[dict], widths: list[int]) -> str:
    if not runs:
        return "no runs stored for this setup"
    arms = _by_arm(runs, widths)
    order = _order(arms)
    chunks = max(len(r["chunks"]) for r in runs)
    lines = []
    for key, title in METRICS:
        lines += [f"\n{title}, mean ± half-range over seeds (seeds)"]
        lines += ["| arm | " + " | ".join(f"after chunk {k + 1}" for k in range(chunks)) + " | mean over chunks |"]
        lines += ["|---|" + "---:|" * (chunks + 1)]
        for arm in order:
            cells = [_cell(list(seed_values(arms[arm], key, k).values())) for k in range(chunks)]
            cells.append(_cell(list(seed_values(arms[arm], key, None).values())))
            lines.append(f"| {arm} ({len(arms[arm])}) | " + " | ".join(cells) + " |")
    lines += _compute_table(arms, order, chunks)
    growing_arms = (*SEARCHING, *SCHEDULED, *_variants(arms))
    for growing in growing_arms:
        lines += _paired(arms, order, chunks, growing)
    lines += _decisions(arms)
    for growing in growing_arms:
        lines += _verdicts(arms, order, chunks, growing)
    return "\n".join(lines)


def _compute_table(arms, order, chunks) -> list[str]:
    lines = ["\ncumulative TFLOP (search included) and width x layers after each chunk, seed means"]
    lines += ["| arm | " + " | ".join(f"chunk {k + 1}" for k in range(chunks)) + " |", "|---|" + "---|" * chunks]
    for arm in order:
        cells = []
        for k in range(chunks):
            runs = [r["chunks"][k] for r in arms[arm].values()]
            shapes = sorted({f"{c['width']}x{c['layers']}" for c in runs})
            cells.append(f"{statistics.fmean(c['cumulative_tflop'] for c in runs):.2f} ({', '.join(shapes)})")
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return lines


def _differences(a: dict, b: dict, key: str, chunk: int | None) -> list[float]:
    va, vb = seed_values(a, key, chunk), seed_values(b, key, chunk)
    return [va[s] - vb[s] for s in sorted(set(va) & set(vb))]


def mark_difference(diffs: list[float]) -> str:
    """Paired differences as mean ± standard deviation, marked † where the mean exceeds it."""
    if len(diffs) < 2:
        return f"{diffs[0]:+.1f} (1 seed)" if diffs else "-"
    mean, spread = statistics.fmean(diffs), statistics.stdev(diffs)
    return f"{mean:+.1f} ± {spread:.1f}" + (" †" if abs(mean) > spread else "")


def _paired(arms, order, chunks, growing: str = "auto") -> list[str]:
    if growing not in arms:
        return []
    lines = [f"\n{growing} minus each arm, object zero-shot points per seed pair (mean ± sd; † where |mean| > sd)"]
    lines += ["| vs | " + " | ".join(f"chunk {k + 1}" for k in range(chunks)) + " | mean over chunks |"]
    lines += ["|---|" + "---|" * (chunks + 1)]
    for arm in order:
        if arm == growing:
            continue
        cells = [mark_difference(_differences(arms[growing], arms[arm], "zero_shot", k)) for k in range(chunks)]
        cells.append(mark_difference(_differences(arms[growing], arms[arm], "zero_shot", None)))
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return lines


def _decisions(arms) -> list[str]:
    lines = []
    for arm in (*SEARCHING, "random"):
        if arm not in arms:
            continue
        lines.append(f"\n{arm}'s decisions per seed")
        for seed, run in sorted(arms[arm].items()):
            steps = []
            for d in run["decisions"]:
                scored = d.get("search", {}).get("candidates", [])
                detail = ", ".join(f"{s['name']} {s['heldout_loss']:.3f}/{s['proxy_steps']} steps" for s in scored)
                head = f"before chunk {d['before_chunk'] + 1}: {d['choice']}"
                trigger = d.get("search", {}).get("trigger")
                head += f" [{trigger['reason']}]" if trigger else ""
                compute = d.get("search", {}).get("compute")
                if compute:
                    ratios = ", ".join(f"{r['name']} {r['pairs_per_parameter']:.2f}" for r in compute["readings"])
                    head += f" [pairs per parameter, need {compute['pairs_per_parameter']:g}: {ratios}]"
                steps.append(head + (f" ({detail})" if detail else ""))
            lines.append(f"- seed {seed}: " + "; ".join(steps))
    return lines


def _verdicts(arms, order, chunks, growing: str = "auto") -> list[str]:
    """The issue's verdicts on the seeds that ``growing`` and every fixed width share (means over other seed sets
    would compare different draws)."""
    fixed = [a for a in order if a.startswith("fixed-")]
    if growing not in arms or not fixed:
        return []
    seeds = set(arms[growing]).intersection(*(arms[a] for a in fixed))
    if not seeds:
        return [f"\nverdicts for {growing}: no seed shared with every fixed width"]
    arms = {a: {s: run for s, run in arms[a].items() if s in seeds} for a in (growing, *fixed)}
    lines = [f"\nverdicts for {growing} (object zero-shot, {len(seeds)} common seeds)"]

    def mean(arm: str, chunk: int) -> float:
        return statistics.fmean(seed_values(arms[arm], "zero_shot", chunk).values())

    best_per_chunk = [max(fixed, key=lambda a, k=k: mean(a, k)) for k in range(chunks)]
    lines.append("- best fixed width per chunk: " + ", ".join(best_per_chunk))
    crossover = len(set(best_per_chunk)) > 1
    line = f"- crossover among fixed widths (the precondition): {'yes' if crossover else 'no'}"
    if crossover:
        late, early = best_per_chunk[-1], best_per_chunk[0]
        lead = mark_difference(_differences(arms[late], arms[early], "zero_shot", chunks - 1))
        line += f" ({late} minus {early} after the last chunk: {lead})"
    lines.append(line)
    beats = []
    for arm in fixed:
        diffs = _differences(arms[growing], arms[arm], "zero_shot", None)
        spread = statistics.stdev(diffs) if len(diffs) > 1 else float("inf")
        beats.append(bool(diffs) and statistics.fmean(diffs) > spread)
    lines.append(f"- {growing}'s mean over chunks beats every fixed width by more than the spread: {all(beats)}")
    last = chunks - 1
    gap = mean(growing, last) - max(mean(a, last) for a in fixed)
    lines.append(f"- {growing}'s final chunk minus the best fixed width's: {gap:+.1f} points (goal >= -0.5)")
    worst = min(mean(growing, k) - max(mean(a, k) for a in fixed) for k in range(chunks))
    verdict = "yes" if worst >= -1.0 else "no"
    lines.append(f"- within 1 point of the best fixed width after every chunk (a control's goal): {verdict}")
    lines[-1] += f" (worst chunk {worst:+.1f})"
    return lines


def plotted_runs(arms: dict[str, dict[int, dict]]) -> tuple[set[int], dict[str, dict[int, dict]]]:
    """The seeds every fixed width ran, and each arm's runs on them, in table order: every line of the plot is a mean
    over the same seeds, and an arm without all of them is left out."""
    fixed = [a for a in arms if a.startswith("fixed-")]
    seeds = set.intersection(*(set(arms[a]) for a in fixed)) if fixed else set()
    kept = [a for a in _order(arms) if a != "scratch" and seeds <= set(arms[a])] if seeds else []
    return seeds, {a: {seed: run for seed, run in arms[a].items() if seed in seeds} for a in kept}


def plot(runs: list[dict], widths: list[int], path: Path) -> Path:
    """Object zero-shot against cumulative compute: every fixed width, their envelope, and the growing arms."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seeds, arms = plotted_runs(_by_arm(runs, widths))
    fixed = [a for a in arms if a.startswith("fixed-")]
    figure, axis = plt.subplots(figsize=(6.4, 4.2))
    envelope: dict[int, float] = {}
    for arm in arms:
        chunks = len(next(iter(arms[arm].values()))["chunks"])
        xs = [statistics.fmean(r["chunks"][k]["cumulative_tflop"] for r in arms[arm].values()) for k in range(chunks)]
        ys = [statistics.fmean(seed_values(arms[arm], "zero_shot", k).values()) for k in range(chunks)]
        style = {"linestyle": "--", "alpha": 0.7} if arm.startswith("fixed-") else {"linewidth": 2.2}
        axis.plot(xs, ys, marker="o", label=arm, **style)
        if arm.startswith("fixed-"):
            for k, y in enumerate(ys):
                envelope[k] = max(envelope.get(k, 0.0), y)
    if envelope:
        xs = [statistics.fmean(r["chunks"][k]["cumulative_tflop"] for r in arms[fixed[0]].values()) for k in envelope]
        axis.plot(xs, list(envelope.values()), color="black", linewidth=4, alpha=0.15, label="best fixed width")
    axis.set_xscale("log")
    if envelope:  # ticks at the chunk boundaries, not matplotlib's crowded log minor labels
        axis.set_xticks(xs, [f"{x:.2f}" for x in xs])
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axis.set_xlabel("cumulative training TFLOP (search included)")
    axis.set_ylabel("object zero-shot over concepts seen (%)")
    axis.set_title(f"growing-concepts stream, equal compute per chunk ({len(seeds)} seeds)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
