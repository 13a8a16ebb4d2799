"""Data-aware architecture search: train each candidate briefly on the new chunk, score it on held-out pairs.

Runs on one process (the caller broadcasts the decision). Every candidate starts from the current model (grown with
the stage's initialisation), is trained by the caller's ``train_candidate(candidate, steps)`` (the stage loop passes
``training.ProxyTrainer``: the same proxy batches and the current optimizer's state for every candidate), and is
scored by the contrastive loss on held-out pairs of the new chunk (lower is better; ties go to fewer parameters).
The proxy steps are sized so the whole search stays within a fraction of the stage's training compute.

``proxy_compute`` says what the candidates are given the same amount of: ``steps`` (GrowCLIP's search: a wider
candidate gets more compute) or ``flops`` (each candidate the same FLOPs, so a candidate twice as dear trains half the
steps). Equal FLOPs asks the question that decides whether growing pays: which architecture learns more per FLOP of
the stage's budget from here on; equal steps favours the dearest candidate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from ..faults import kill_point
from ..models.growclip.growth_targets_growclip import grown_config
from ..objective import global_contrastive_loss
from .flops import training_flops_per_pair
from .space import Candidate

CandidateTrainer = Callable[..., None]  # (candidate, steps, total_steps=None) -> None
SEARCH_METHODS = ("single", "halving")
PROXY_COMPUTE = ("steps", "flops")


@dataclass
class SearchSettings:
    max_search_fraction: float = 0.15
    min_proxy_steps: int = 2
    max_proxy_steps: int = 20
    init: str = "preserve"
    momentum: float = 0.5
    tie_tolerance: float = 1e-3  # "single": losses within this relative margin tie (the smaller candidate wins)
    method: str = "single"  # "single": one round, every candidate the same steps; "halving": growth.halving
    keep_margin: float = 1.0  # "halving": grow only when the best beats keep by more standard errors than this
    proxy_compute: str = "steps"  # "single": each candidate the same proxy steps, or the same proxy FLOPs

    def __post_init__(self):
        if self.method not in SEARCH_METHODS:
            raise ValueError(f"growth.method must be one of {SEARCH_METHODS}, got {self.method!r}.")
        if not 0 < self.max_search_fraction <= 1:
            raise ValueError(f"growth.max_search_fraction must be in (0, 1], got {self.max_search_fraction}.")
        if self.proxy_compute not in PROXY_COMPUTE:
            raise ValueError(f"growth.proxy_compute must be one of {PROXY_COMPUTE}, got {self.proxy_compute!r}.")
        if self.proxy_compute == "flops" and self.method != "single":
            raise ValueError("growth.proxy_compute=flops needs growth.method=single (halving sizes its own rounds).")


@dataclass
class SearchResult:
    choice: Candidate
    proxy_steps: int
    search_flops: float
    scores: list[dict] = field(default_factory=list)
    reason: str = ""

    def to_dict(self) -> dict:
        return {
            "choice": self.choice.name,
            "reason": self.reason,
            "target": self.choice.target,
            "proxy_steps": self.proxy_steps,
            "search_flops": self.search_flops,
            "candidates": self.scores,
        }


def plan_proxy_steps(
    candidates: list[tuple[Candidate, float]], pairs_per_step: int, stage_flops: float, settings: SearchSettings
) -> tuple[list[tuple[Candidate, float]], dict[str, int]]:
    """Pick each candidate's proxy steps (and drop the most expensive candidates if needed) to respect the bound.

    ``candidates`` carry their training FLOPs per pair. Returns the kept candidates and the steps of each, by name:
    the same for all (``proxy_compute="steps"``), or the same FLOPs for all (``"flops"``; ``max_proxy_steps`` then
    bounds the cheapest candidate's steps).
    """
    kept = sorted(candidates, key=lambda item: item[1])
    allowed = settings.max_search_fraction * stage_flops
    while kept:
        steps = _steps_for(kept, pairs_per_step, allowed, settings)
        if min(steps.values()) >= settings.min_proxy_steps or len(kept) == 1:
            return kept, {name: max(count, 0) for name, count in steps.items()}
        kept = kept[:-1]
    return kept, {}


def _steps_for(kept: list[tuple[Candidate, float]], pairs_per_step: int, allowed: float, settings) -> dict[str, int]:
    if pairs_per_step <= 0 or not kept:
        return {candidate.name: 0 for candidate, _ in kept}
    if settings.proxy_compute == "steps":
        per_step = pairs_per_step * sum(flops for _, flops in kept)
        steps = min(settings.max_proxy_steps, int(allowed // per_step)) if per_step > 0 else 0
        return {candidate.name: steps for candidate, _ in kept}
    cheapest = kept[0][1]
    share = min(allowed / len(kept), settings.max_proxy_steps * pairs_per_step * cheapest)
    return {candidate.name: int(share // (pairs_per_step * flops)) for candidate, flops in kept}


def heldout_loss(model, heldout: dict) -> float:
    """The contrastive loss of ``heldout`` pairs (one process, no gradient); leaves the model in eval mode."""
    model.eval()
    with torch.no_grad():
        out = model(**heldout)
        loss = global_contrastive_loss(out.image_embeds, out.text_embeds, out.logit_scale, gather=False)
    return loss.item()


def run_search(
    model,
    candidates: list[Candidate],
    train_candidate: CandidateTrainer,
    pairs_per_step: int,
    heldout: dict,
    stage_flops: float,
    settings: SearchSettings,
    seed: int,
    text_tokens: int = 32,
) -> SearchResult:
    """Score ``candidates`` (the first should be "keep") and return the best with the full record.

    ``train_candidate(candidate, steps)`` trains a candidate in place on ``pairs_per_step`` pairs per step.
    """
    priced = price_candidates(model, candidates, text_tokens)
    kept, steps = plan_proxy_steps(priced, pairs_per_step, stage_flops, settings)
    scores = []
    for candidate, flops in kept:
        trial = start_candidate(model, candidate, settings, seed)
        train_candidate(trial, steps[candidate.name])
        scores.append(
            {
                "name": candidate.name,
                "target": candidate.target,
                "parameters": sum(p.numel() for p in trial.parameters()),
                "flops_per_pair": flops,
                "proxy_steps": steps[candidate.name],
                "heldout_loss": heldout_loss(trial, heldout),
            }
        )
        del trial
        kill_point("search")
    best = min(scores, key=lambda s: s["heldout_loss"])
    ties = [s for s in scores if s["heldout_loss"] <= best["heldout_loss"] * (1 + settings.tie_tolerance)]
    winner = min(ties, key=lambda s: s["parameters"])
    choice = next(c for c, _ in kept if c.name == winner["name"])
    search_flops = pairs_per_step * sum(steps[candidate.name] * flops for candidate, flops in kept)
    over_bound = len(kept) < len(priced)
    reason = _reason(scores, best, winner, settings.tie_tolerance, over_bound)
    return SearchResult(choice, max(steps.values()), search_flops, scores, reason)


def _reason(scores: list[dict], best: dict, winner: dict, tolerance: float, over_bound: bool) -> str:
    """Why the winner won, for the console line and the growth log."""
    if all(not s["target"] for s in scores):
        return "no growth candidate fits the compute bound" if over_bound else "no growth candidate to score"
    if winner is best:
        return "lowest held-out loss"
    return f"within {100 * tolerance:g}% of the best ({best['name']}) with fewer parameters"


def price_candidates(model, candidates: list[Candidate], text_tokens: int = 32) -> list[tuple[Candidate, float]]:
    """Each candidate with its training FLOPs per pair once grown."""
    priced = []
    for candidate in candidates:
        config = grown_config(model.config, candidate.target)[0] if candidate.target else model.config
        priced.append((candidate, training_flops_per_pair(config, text_tokens)))
    return priced


def start_candidate(model, candidate: Candidate, settings: SearchSettings, seed: int):
    """The candidate model: grown with the stage's initialisation, or a copy for "keep"."""
    if candidate.target:
        return model.grow(candidate.target, init=settings.init, momentum=settings.momentum, seed=seed)
    return copy.deepcopy(model)
