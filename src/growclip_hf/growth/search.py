"""Data-aware architecture search: train each candidate briefly on the new chunk, score it on held-out pairs.

Runs on one process (the caller broadcasts the decision). Every candidate starts from the current model (grown with
the stage's initialisation), is trained by the caller's ``train_candidate(candidate, steps)`` (the stage loop passes
``training.ProxyTrainer``: the same proxy batches and the current optimizer's state for every candidate), and is
scored by the contrastive loss on held-out pairs of the new chunk (lower is better; ties go to fewer parameters).
The proxy steps are sized so the whole search stays within a fraction of the stage's training compute.
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

    def __post_init__(self):
        if self.method not in SEARCH_METHODS:
            raise ValueError(f"growth.method must be one of {SEARCH_METHODS}, got {self.method!r}.")
        if not 0 < self.max_search_fraction <= 1:
            raise ValueError(f"growth.max_search_fraction must be in (0, 1], got {self.max_search_fraction}.")


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
) -> tuple[list[tuple[Candidate, float]], int]:
    """Pick the proxy step count (and drop the most expensive candidates if needed) to respect the compute bound.

    ``candidates`` carry their training FLOPs per pair. Returns the kept candidates and the steps for each.
    """
    kept = sorted(candidates, key=lambda item: item[1])
    allowed = settings.max_search_fraction * stage_flops
    while kept:
        per_step = pairs_per_step * sum(flops for _, flops in kept)
        steps = min(settings.max_proxy_steps, int(allowed // per_step)) if per_step > 0 else 0
        if steps >= settings.min_proxy_steps or len(kept) == 1:
            return kept, max(steps, 0)
        kept = kept[:-1]
    return kept, 0


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
        train_candidate(trial, steps)
        scores.append(
            {
                "name": candidate.name,
                "target": candidate.target,
                "parameters": sum(p.numel() for p in trial.parameters()),
                "flops_per_pair": flops,
                "heldout_loss": heldout_loss(trial, heldout),
            }
        )
        del trial
        kill_point("search")
    best = min(scores, key=lambda s: s["heldout_loss"])
    ties = [s for s in scores if s["heldout_loss"] <= best["heldout_loss"] * (1 + settings.tie_tolerance)]
    winner = min(ties, key=lambda s: s["parameters"])
    choice = next(c for c, _ in kept if c.name == winner["name"])
    search_flops = steps * pairs_per_step * sum(flops for _, flops in kept)
    over_bound = len(kept) < len(priced)
    reason = _reason(scores, best, winner, settings.tie_tolerance, over_bound)
    return SearchResult(choice, steps, search_flops, scores, reason)


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
