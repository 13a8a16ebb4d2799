"""When and how to grow at a stage boundary: ``auto`` (the search), ``compute`` (compute-optimal sizing, no search),
``schedule`` (given targets), ``random``, ``none``. A policy returns a decision record; the caller applies the target
on every process."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..models.growclip.growth_targets_growclip import grown_config
from .compute_optimal import check_pairs_per_parameter, compute_optimal_choice
from .halving import run_halving
from .plan_check import invalid_candidates
from .search import SearchSettings, run_search
from .space import GrowthBudget, GrowthSpace
from .trigger import GrowthTrigger

POLICIES = ("auto", "compute", "schedule", "random", "none")


@dataclass
class StageContext:
    """What a policy may look at when chunk ``stage`` arrives."""

    stage: int
    model: object
    samples_seen: int
    stage_flops: float
    seed: int
    train_candidate: Callable | None = None  # (candidate, steps) -> None; given by the caller for ``auto``
    pairs_per_step: int = 0
    heldout: dict | None = None
    previous_losses: list[float] | None = None  # the previous stage's training loss per step, for the trigger
    previous_curve: list | None = None  # its (cumulative FLOPs, held-out loss) readings, for the slope trigger


@dataclass
class GrowthPolicy:
    """Configuration of the growth decision; ``decide`` is called once per stage after the first."""

    name: str = "auto"
    schedule: list = field(default_factory=list)  # per stage (index 1..): a target dict or None
    space: GrowthSpace = field(default_factory=GrowthSpace)
    budget_exponent: float = 0.5
    search: SearchSettings = field(default_factory=SearchSettings)
    trigger: GrowthTrigger = field(default_factory=GrowthTrigger)  # when auto/random decide; none/schedule ignore it
    # Pairs per proxy step of the search (None: the training micro-batch). The bound is in FLOPs, so smaller proxy
    # batches buy more candidates and steps within it; the stage loop reads the search's data in batches of this size.
    proxy_batch_size: int | None = None
    # ``compute``: grow to the largest candidate the stage's FLOP budget trains on at least this many pairs per
    # parameter (read from a fixed-width sweep on the stream; see growth/compute_optimal.py)
    pairs_per_parameter: float = 1.0

    def __post_init__(self):
        if self.name not in POLICIES:
            raise ValueError(f"Growth policy must be one of {POLICIES}, got {self.name!r}.")
        check_proxy_batch_size(self.proxy_batch_size)
        check_pairs_per_parameter(self.pairs_per_parameter)
        self.base_params: int | None = None
        self.base_samples: int | None = None

    def needs_search_data(self) -> bool:
        return self.name == "auto"

    def trigger_reading(self, context: StageContext) -> dict:
        """Whether to decide at this boundary at all (see ``growth.trigger``); cheap, so it runs first."""
        return self.trigger.reading(context.previous_losses, context.previous_curve)

    def record_base(self, params: int, samples: int) -> None:
        """The first stage's size and data define the budget's unit."""
        self.base_params, self.base_samples = params, samples

    def decide(self, context: StageContext) -> dict:
        """A decision record: ``{"policy", "stage", "target" (dict or None), ...details}``."""
        record = {"policy": self.name, "stage": context.stage, "samples_seen": context.samples_seen}
        if self.name == "none":
            return {**record, "target": None}
        if self.name == "schedule":
            index = context.stage - 1
            target = self.schedule[index] if index < len(self.schedule) else None
            return {**record, "target": target or None}
        if self.trigger.name != "every" and self.name != "compute":  # compute says when by itself, as schedule does
            record["trigger"] = self.trigger_reading(context)
            if not record["trigger"]["fire"]:
                return {**record, "target": None, "choice": "keep"}
        budget = GrowthBudget(self.base_params, self.base_samples, self.budget_exponent)
        allowed = budget.allowed_parameters(context.samples_seen)
        candidates, excluded = [], []
        proposed = self.space.candidates(context.model.config)
        # e.g. a width step while a width-growth ramp still runs: logged, never built
        invalid = invalid_candidates(context.model.config, proposed, self.search.init)
        for candidate in proposed:
            if candidate.name in invalid:
                excluded.append({"name": candidate.name, "invalid": invalid[candidate.name]})
                continue
            fits, params = budget.within(context.model.config, candidate.target, context.samples_seen, _grown)
            if fits or not candidate.target:  # "keep" is always a candidate
                candidates.append(candidate)
            else:
                excluded.append({"name": candidate.name, "parameters": params})
        record.update(budget_parameters=allowed, over_budget=excluded)
        if self.name == "random":
            choice = random.Random(context.seed).choice(candidates)
            return {**record, "target": choice.target or None, "choice": choice.name}
        if self.name == "compute":
            ratio = self.pairs_per_parameter
            choice, readings = compute_optimal_choice(context.model.config, candidates, context.stage_flops, ratio)
            record["compute"] = {"stage_flops": context.stage_flops, "pairs_per_parameter": ratio, "readings": readings}
            return {**record, "target": choice.target or None, "choice": choice.name}
        if context.train_candidate is None or context.heldout is None:
            raise ValueError("The auto policy needs train_candidate and heldout in its StageContext.")
        if self.search.method == "halving":
            search = run_halving(
                context.model,
                candidates,
                context.train_candidate,
                context.pairs_per_step,
                context.heldout,
                context.stage_flops,
                self.search,
                seed=context.seed,
            )
            search["search_fraction"] = search["search_flops"] / context.stage_flops if context.stage_flops else 0.0
            search["search_bound"] = self.search.max_search_fraction
            search["pairs_per_step"] = context.pairs_per_step
            return {**record, "target": search["target"] or None, "choice": search["choice"], "search": search}
        result = run_search(
            context.model,
            candidates,
            context.train_candidate,
            context.pairs_per_step,
            context.heldout,
            context.stage_flops,
            self.search,
            seed=context.seed,
        )
        search = result.to_dict()
        search["search_fraction"] = result.search_flops / context.stage_flops if context.stage_flops else 0.0
        search["search_bound"] = self.search.max_search_fraction  # the log shows the bound beside the spend
        search["pairs_per_step"] = context.pairs_per_step
        return {**record, "target": result.choice.target or None, "choice": result.choice.name, "search": search}


def check_proxy_batch_size(value) -> None:
    """``growth.proxy_batch_size`` is left out (None) or a whole number of pairs >= 2 (one pair has no negative, so
    its contrastive loss and gradient are zero); a one-line error otherwise."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
        raise ValueError(
            f"growth.proxy_batch_size must be a whole number of pairs per proxy step, at least 2, got {value!r}; "
            "set it to e.g. 8, or leave it out to use training.batch_size."
        )


def _grown(config, target):
    return grown_config(config, target)[0]


def decision_line(record: dict, bound: float | None = None) -> str:
    """One console line per growth decision: the choice, each last-round candidate's score, the spend vs the bound."""
    stage, choice = record["stage"], record.get("choice") or ("grow" if record.get("target") else "keep")
    head = f"growth before stage {stage} ({record['policy']}): {choice}"
    if record.get("trigger"):
        head += f" [{record['trigger']['reason']}]"
    compute = record.get("compute")
    if compute:
        readings = ", ".join(f"{r['name']} {r['pairs_per_parameter']:.2f}" for r in compute["readings"])
        head += f" (largest candidate with >= {compute['pairs_per_parameter']:g} training pairs per parameter in the"
        head += f" stage's {compute['stage_flops']:.3g} FLOPs: {readings}; no search)"
    search = record.get("search")
    if not search:
        return head if record["policy"] != "schedule" else f"{head} -> {record.get('target')}"
    if search.get("method") == "halving":
        last = search["rounds"][-1] if search["rounds"] else {"round": -1, "steps": 0, "scores": []}
        scores = ", ".join(
            f"{s['name']} {s['heldout_loss']:.4f}"
            + (f" ({s['vs_keep']:+.4f} ± {s['vs_keep_error']:.4f})" if "vs_keep" in s else "")
            for s in last["scores"]
        )
        head += f" ({search['reason']})"
        if search["rounds"]:
            head += f"; round {last['round'] + 1}/{len(search['rounds'])}, {last['steps']} steps: {scores}"
    else:
        candidates = search["candidates"]
        equal = len({s.get("proxy_steps", search["proxy_steps"]) for s in candidates}) <= 1
        each = "" if equal else " ({} steps)"
        scores = ", ".join(
            f"{s['name']} {s['heldout_loss']:.4f}" + each.format(s.get("proxy_steps")) for s in candidates
        )
        steps = f"{search['proxy_steps']} proxy steps" if equal else "equal-FLOP proxies"
        head += f" ({search.get('reason') or 'lowest held-out loss'}); {steps}: {scores}"
    left_out = record.get("over_budget", [])
    over = [c["name"] for c in left_out if "invalid" not in c]
    invalid = [c["name"] for c in left_out if "invalid" in c]
    head += f"; over the parameter budget: {', '.join(over)}" if over else ""
    head += f"; not buildable: {', '.join(invalid)}" if invalid else ""
    limit = f" of at most {100 * bound:.0f}%" if bound is not None else ""
    return f"{head}; search {100 * search.get('search_fraction', 0.0):.1f}% of the stage's compute{limit}"
