"""Successive halving over growth candidates, with a paired held-out test against "keep", under a hard compute bound.

Why: a single round gives every candidate the same few proxy steps, and on a few hundred held-out pairs the
candidates' losses then differ by less than their noise, so the choice is close to random. Halving spends the
budget where the signal is: all candidates train briefly, the better half trains longer, and so on until one
candidate is left beside "keep". "keep" trains in every round as the reference: each candidate's held-out loss is
compared with keep's on the same pairs (a paired difference, whose standard error is far smaller than either loss's),
and growth wins only when the best candidate beats keep by more than ``keep_margin`` standard errors.

The bound is hard: each round's steps are sized for the most expensive candidates that could survive to it, so the
spend never exceeds ``max_search_fraction`` of the stage's compute, whatever the scores; candidates that do not fit
even one step of the first round are dropped, most expensive first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from ..faults import kill_point
from .search import price_candidates, start_candidate
from .space import Candidate

KEEP = "keep"


@dataclass
class Round:
    survivors: int  # candidates trained in this round, keep included
    steps: int  # proxy steps each of them trains in this round


@dataclass
class HalvingPlan:
    kept: list[tuple[Candidate, float]]  # (candidate, training FLOPs per pair), cheapest first, keep first
    rounds: list[Round] = field(default_factory=list)

    @property
    def total_steps(self) -> int:
        return sum(r.steps for r in self.rounds)


def plan_rounds(
    candidates: list[tuple[Candidate, float]], pairs_per_step: int, allowed_flops: float, min_steps: int = 1
) -> HalvingPlan:
    """Rounds of halving whose worst-case spend fits ``allowed_flops``; drops the dearest candidates if needed.

    ``candidates`` carry their training FLOPs per pair; the one named "keep" always stays.
    """
    keep = [item for item in candidates if item[0].name == KEEP]
    others = sorted((item for item in candidates if item[0].name != KEEP), key=lambda item: item[1])
    while True:
        if not others:  # nothing to compare with keep: no search at all
            return HalvingPlan(keep, [])
        kept = keep + others
        counts = _survivor_counts(len(kept), has_keep=bool(keep))
        share = allowed_flops / len(counts)
        rounds = []
        for count in counts:
            dearest = sorted((flops for _, flops in kept), reverse=True)[:count]
            per_step = pairs_per_step * sum(dearest)
            rounds.append(Round(count, int(share // per_step) if per_step > 0 else 0))
        if rounds[0].steps >= min_steps:
            return HalvingPlan(kept, [r for r in rounds if r.steps > 0])
        others = others[:-1]


def _survivor_counts(n: int, has_keep: bool) -> list[int]:
    """n, then about half of the growth candidates (keep stays beside them) until one growth candidate is left."""
    growth = n - 1 if has_keep else n
    counts = [n]
    while growth > 1:
        growth = math.ceil(growth / 2)
        counts.append(growth + (1 if has_keep else 0))
    return counts


def pair_losses(model, heldout: dict) -> torch.Tensor:
    """Each held-out pair's symmetric InfoNCE loss (image->text and text->image rows, averaged), no gradient."""
    model.eval()
    with torch.no_grad():
        out = model(**heldout)
        logits = out.logit_scale * out.image_embeds @ out.text_embeds.t()
        labels = torch.arange(logits.shape[0], device=logits.device)
        image_rows = F.cross_entropy(logits, labels, reduction="none")
        text_rows = F.cross_entropy(logits.t(), labels, reduction="none")
    return ((image_rows + text_rows) / 2).double().cpu()


def paired_difference(losses: torch.Tensor, reference: torch.Tensor) -> tuple[float, float]:
    """Mean of ``losses - reference`` over the same pairs and its standard error."""
    difference = losses - reference
    error = difference.std(unbiased=True).item() / math.sqrt(difference.numel()) if difference.numel() > 1 else 0.0
    return difference.mean().item(), error


def run_halving(
    model,
    candidates: list[Candidate],
    train_candidate,
    pairs_per_step: int,
    heldout: dict,
    stage_flops: float,
    settings,
    seed: int,
    text_tokens: int = 32,
) -> dict:
    """Run the rounds; return the decision record (choice, per-round scores, spend against the bound)."""
    priced = price_candidates(model, candidates, text_tokens)
    allowed = settings.max_search_fraction * stage_flops
    plan = plan_rounds(priced, pairs_per_step, allowed, settings.min_proxy_steps)
    trials = {c.name: (c, flops, start_candidate(model, c, settings, seed)) for c, flops in plan.kept}
    alive, rounds, spent = list(trials), [], 0.0
    for index, round_ in enumerate(plan.rounds):
        alive = _best(alive, rounds[-1]["scores"], round_.survivors) if rounds else alive
        for name in alive:
            train_candidate(trials[name][2], round_.steps, total_steps=plan.total_steps)
            spent += round_.steps * pairs_per_step * trials[name][1]
            kill_point("search")
        rounds.append({"round": index, "steps": round_.steps, "scores": _score(alive, trials, heldout)})
    if spent > allowed * (1 + 1e-9):
        raise RuntimeError(f"Search spent {spent:.3g} FLOPs over its bound {allowed:.3g}; this is a bug.")
    final = rounds[-1]["scores"] if rounds else []
    choice, reason = _choose(final, settings.keep_margin)
    return {
        "method": "halving",
        "choice": choice,
        "target": trials[choice][0].target if choice in trials else None,
        "reason": reason,
        "rounds": rounds,
        "proxy_steps": plan.total_steps,
        "search_flops": spent,
        "bound_flops": allowed,
        "dropped_for_budget": [c.name for c, _ in priced if c.name not in trials],
        "candidates": [{"name": c.name, "target": c.target, "flops_per_pair": f} for c, f in plan.kept],
    }


def _score(alive: list[str], trials: dict, heldout: dict) -> list[dict]:
    losses = {name: pair_losses(trials[name][2], heldout) for name in alive}
    reference = losses.get(KEEP)
    scores = []
    for name in alive:
        record = {
            "name": name,
            "parameters": sum(p.numel() for p in trials[name][2].parameters()),
            "heldout_loss": losses[name].mean().item(),
        }
        if reference is not None and name != KEEP:
            record["vs_keep"], record["vs_keep_error"] = paired_difference(losses[name], reference)
        scores.append(record)
    return scores


def _best(alive: list[str], scores: list[dict], count: int) -> list[str]:
    """Keep plus the best ``count - 1`` growth candidates of the last round (all of them without keep)."""
    ranked = [s["name"] for s in sorted(scores, key=lambda s: s["heldout_loss"]) if s["name"] != KEEP]
    has_keep = KEEP in alive
    return ([KEEP] if has_keep else []) + ranked[: count - (1 if has_keep else 0)]


def _choose(scores: list[dict], keep_margin: float) -> tuple[str, str]:
    """The best growth candidate if it beats keep beyond ``keep_margin`` standard errors, else keep."""
    growth = [s for s in scores if s["name"] != KEEP]
    if not growth:
        return KEEP, "no growth candidate fits the compute bound"
    best = min(growth, key=lambda s: s["heldout_loss"])
    if "vs_keep" not in best:
        return best["name"], "no keep reference"
    if best["vs_keep"] + keep_margin * best["vs_keep_error"] < 0:
        return best["name"], f"beats keep by {-best['vs_keep']:.4f} ± {best['vs_keep_error']:.4f}"
    return KEEP, f"best ({best['name']}) within {keep_margin:g} standard errors of keep"
