"""Growth that pays? A growing model against every fixed width on a stream whose demand grows, at equal compute.

The stream (``growclip_hf.data.benchmark.growing_concepts``) adds new emoji concepts every chunk, renders every pair
afresh and asks, after each chunk, for every concept seen so far; the FLOP budget per chunk grows chunk by chunk (as
web data grows year by year). Every arm trains the same protocol (``concept_runs``: steps bought by the chunk's
budget, one warmup-stable-decay cycle per chunk, a learning rate per width):

- ``fixed-W``: width W throughout (the fixed-width sweep: it must show the crossover for the claim to be testable);
- ``auto``: starts at the smallest width; before every later chunk the product's search (``growth.run_search`` with
  equal-FLOP proxies, at most ``--search-fraction`` of the chunk's budget, paid out of that budget) scores keep, twice
  the width and one more layer on pairs of the new chunk, and the winner is grown (function-preserving) and trained;
- ``auto-warmup``: auto whose proxies ramp the rate up over their first half (a stage starts with a warmup; at the
  peak rate from step 0 a grown candidate's fresh entries jump, and the search sees that jump, not its capacity);
- ``auto-ramp``: auto whose width-grown candidates open their new units over the first half of their proxy, not all
  of it (scored at the end of a ramp, a candidate is scored where the opened units disturb it most);
- ``auto-slope``: the product's ``slope`` trigger reads the previous chunk's learning curve (held-out loss against
  cumulative FLOPs on the stable part) and, when it falls by no more than ``--slope-min-gain`` per doubling of
  compute, grows the best growth candidate of the same search (keep is not a candidate once the trigger fired: the
  trigger answered keep-or-grow, the search answers what to grow); the readings count as its compute;
- ``auto-compute``: the product's ``compute`` policy (``growth.compute_optimal``): before every later chunk it grows
  to the largest of the same candidates that the chunk's budget trains on at least ``--pairs-per-parameter`` pairs
  per parameter (a ratio read from the precondition map, not from these arms), and keeps otherwise; no search;
  ``auto-compute-width``: the same policy on the space the map measured (keep or the next width; ``growth.space``
  with its depth step off);
- ``hand``: grows to the next width before the second chunk, no search; ``hand-late``: before the last chunk;
- ``random``: a random candidate at every boundary (the search's alternatives, uniformly);
- ``scratch``: auto's final architecture trained from scratch on the whole stream (skipped when a fixed arm is it);
- ``ARM+pimM``: a growing arm whose growth initialises by PIM with momentum ``M`` (``m * inherited + (1 - m) *
  fresh``, not function-preserving) instead of ``preserve``: a grown model that inherits a narrow solution may end
  behind the wider model trained from the start (warm starts can generalise worse; shrink-and-perturb is the known
  remedy, and PIM is its GrowCLIP form).

Runs are stored one per line (arm, seed) in ``--store`` (JSON lines; a run already there is skipped, so several
processes can share seeds), and the tables are printed from what is stored; ``--plot`` draws quality against
cumulative compute with the fixed widths' envelope.

  .venv/bin/python benchmarks/growth_sweep.py --seeds 0 1 2 --plot docs/images/growth_sweep.png
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from concept_runs import (  # noqa: E402
    HELDOUT_PAIRS,
    add_recipe_arguments,
    batch,
    deepened,
    heldout_pairs,
    mean_of_last,
    model_config,
    new_trainer,
    scores,
    stream_and_tokenizer,
    train_chunk,
    warmup_steps,
    widened,
)
from growth_sweep_tables import plot, scratch_twin, tables  # noqa: E402

from growclip_hf import GrowCLIPConfig, GrowCLIPModel  # noqa: E402
from growclip_hf.growth.compute_optimal import compute_optimal_choice  # noqa: E402
from growclip_hf.growth.flops import (  # noqa: E402
    forward_flops_per_pair,
    parameter_count,
    steps_within_budget,
    training_flops_per_pair,
)
from growclip_hf.growth.plan_check import invalid_candidates  # noqa: E402
from growclip_hf.growth.search import (  # noqa: E402
    SearchSettings,
    heldout_loss,  # noqa: E402
    run_search,
)
from growclip_hf.growth.space import Candidate  # noqa: E402
from growclip_hf.growth.trigger import GrowthTrigger  # noqa: E402
from growclip_hf.stages.learning_curve import CURVE_POINTS, reading_steps  # noqa: E402
from growclip_hf.training.proxy import ProxyTrainer  # noqa: E402

STORE = Path(__file__).parent / "results" / "growth_sweep.jsonl"
SEARCH_HELDOUT = HELDOUT_PAIRS
WIDTHS, BUDGETS = [16, 32, 64], [0.18, 0.5, 1.4]  # TFLOP per chunk: a budget that grows chunk by chunk
AUTO_ARMS = ("auto", "auto-warmup", "auto-ramp", "auto-slope", "auto-compute", "auto-compute-width")
GROWING_ARMS = (*AUTO_ARMS, "hand", "hand-late", "random", "scratch")


def candidates(config, widths: list[int]) -> list[Candidate]:
    """keep, the next width of the sweep (if any), one more layer in both towers."""
    found = [Candidate("keep", {})]
    wider = [w for w in widths if w > config.vision_config.hidden_size]
    if wider:
        found.append(Candidate(f"width-{wider[0]}", widened(config, wider[0])))
    found.append(Candidate(f"depth-{config.vision_config.num_hidden_layers + 1}", deepened(config)))
    invalid = invalid_candidates(config, found, "preserve")  # e.g. widening while a width ramp still runs
    return [c for c in found if c.name not in invalid]


def growth_init(arm: str) -> tuple[str, float]:
    """How ``arm`` initialises a grown model: ``preserve``, or ``pim`` with the momentum its ``+pimM`` suffix names."""
    init = arm.partition("+")[2]
    if not init:
        return "preserve", 0.0
    if init.startswith("pim"):
        return "pim", float(init.removeprefix("pim"))
    raise ValueError(f"Unknown growth initialisation {init!r} in arm {arm!r}; use ARM+pimM, e.g. hand+pim0.9.")


class Run:
    """One arm on one seed: a model, its trainer, its record, the compute it spent."""

    def __init__(self, arm: str, seed: int, config, args, stream, tokenizer):
        torch.manual_seed(seed)
        self.arm, self.seed, self.args, self.stream, self.tokenizer = arm, seed, args, stream, tokenizer
        self.trainer = new_trainer(GrowCLIPModel(config), args.lr, args.base_width, args.batch_size, seed)
        self.flops, self.chunks, self.decisions, self.curve = 0.0, [], [], []

    @property
    def config(self):
        return self.trainer.unwrapped_model.config

    def grow(self, target: dict, stage: int) -> None:
        init, momentum = growth_init(self.arm)
        self.trainer.grow(target, init=init, momentum=momentum, seed=self.seed + 1000 + stage)

    def search(
        self, chunk: int, budget: float, warmup_share: float, grow_only=False, ramp_share=1.0
    ) -> tuple[dict | None, float, dict]:
        """The product's search at the boundary before ``chunk``: equal-FLOP proxies on the new chunk's pairs."""
        model = self.trainer.unwrapped_model
        found = candidates(model.config, self.args.widths)
        found = [c for c in found if c.target] if grow_only else found
        if not found:
            return None, 0.0, {"choice": "keep", "reason": "no growth candidate", "candidates": []}
        settings = SearchSettings(
            max_search_fraction=self.args.search_fraction,
            min_proxy_steps=1,
            max_proxy_steps=10**6,
            proxy_compute="flops",
            method="single",
        )
        cheapest = self.args.batch_size * training_flops_per_pair(model.config, 16)
        proxy_steps = int(self.args.search_fraction * budget / len(found) // cheapest) + 1
        rng = np.random.default_rng([self.seed, chunk, 99])
        pairs = [self.stream.sample(chunk, self.args.batch_size, rng) for _ in range(proxy_steps)]
        batches = [batch(i, c, self.tokenizer) for i, c in pairs]
        proxy = ProxyTrainer(
            model, self.trainer.optimizer, batches, self.args.lr, warmup_share=warmup_share, ramp_share=ramp_share
        )
        heldout = heldout_pairs(self.stream, chunk, SEARCH_HELDOUT, self.tokenizer, seed=4242 + self.seed)
        result = run_search(model, found, proxy, self.args.batch_size, heldout, budget, settings, self.seed + chunk, 16)
        record = result.to_dict()
        self.trainer.unwrapped_model.train()
        return result.choice.target or None, result.search_flops, record

    def train(self, chunk: int, budget: float, spent: float, heldouts, pairs, read_curve=False, warmup=None) -> None:
        """Train ``chunk`` on what is left of ``budget`` after ``spent``, then score it (``warmup``: steps, if not
        the recipe's)."""
        per_step = self.args.batch_size * training_flops_per_pair(self.config, 16)
        if read_curve:  # the readings' forward passes are paid out of the chunk's budget
            spent += CURVE_POINTS * len(pairs[chunk]["input_ids"]) * forward_flops_per_pair(self.config, 16)
        steps = steps_within_budget(budget, self.args.batch_size, self.config, spent=spent, text_tokens=16)
        rng = np.random.default_rng([self.seed, chunk])  # the same pairs, in the same order, for every arm
        self.trainer.config.warmup_steps = warmup_steps(steps) if warmup is None else warmup
        readings = set(reading_steps(steps, self.trainer.config)) if read_curve else set()
        start, self.curve = self.flops + spent, []

        def read(step: int) -> None:
            if step in readings:
                loss = heldout_loss(self.trainer.unwrapped_model, pairs[chunk])
                self.trainer.unwrapped_model.train()
                self.curve.append([start + (step + 1) * per_step, loss])

        losses = train_chunk(self.trainer, self.stream, chunk, steps, rng, self.tokenizer, read, warmup)
        self.flops += spent + steps * per_step
        result = scores(self.trainer.unwrapped_model, self.stream, chunk, heldouts[chunk], pairs[chunk], self.tokenizer)
        record = {
            "chunk": chunk,
            **result,
            "steps": steps,
            "search_flops": spent,
            "cumulative_tflop": self.flops / 1e12,
            "parameters": sum(p.numel() for p in self.trainer.unwrapped_model.parameters()),
            "width": self.config.vision_config.hidden_size,
            "layers": self.config.vision_config.num_hidden_layers,
            "final_loss": mean_of_last(losses),
        }
        self.chunks.append(record)
        print(
            f"  {self.arm} seed {self.seed} chunk {chunk}: width {record['width']}x{record['layers']}, {steps} steps, "
            f"zero-shot {result['zero_shot']:.1f} %, Rm {result['retrieval_Rm']:.1f}, "
            f"held-out loss {result['heldout_loss']:.3f}",
            flush=True,
        )


def run_arm(arm: str, seed: int, args, stream, tokenizer, heldouts, pairs, final_config=None) -> dict:
    started = time.perf_counter()
    name, arm = arm, arm.partition("+")[0]  # the base arm decides and sizes; a ``+pimM`` suffix only changes growth
    smallest = min(args.widths)
    width = int(arm.split("-")[1]) if arm.startswith("fixed-") else smallest
    config = final_config or model_config(width, args.layers, args.image_size, args.patch_size, tokenizer)
    run = Run(name, seed, config, args, stream, tokenizer)
    choices = random.Random(seed)
    for chunk, budget in enumerate(args.budgets):
        budget *= 1e12
        spent = 0.0
        if chunk > 0 and arm in GROWING_ARMS and arm != "scratch":
            target, choice, record = None, "keep", {}
            if arm.startswith("auto-compute"):
                found = candidates(run.config, args.widths)
                found = [c for c in found if not c.name.startswith("depth")] if arm.endswith("width") else found
                pick, readings = compute_optimal_choice(run.config, found, budget, args.pairs_per_parameter, 16)
                target, choice = pick.target or None, pick.name
                record = {"compute": {"pairs_per_parameter": args.pairs_per_parameter, "readings": readings}}
            elif arm == "auto-slope":
                reading = GrowthTrigger("slope", min_gain=args.slope_min_gain).reading(None, run.curve)
                record = {"trigger": reading}
                if reading["fire"]:
                    target, spent, found = run.search(chunk, budget, 0.0, grow_only=True)
                    record.update(found)
                    choice = found["choice"]
            elif arm.startswith("auto"):
                warmup, ramp = (0.5 if arm == "auto-warmup" else 0.0), (0.5 if arm == "auto-ramp" else 1.0)
                target, spent, record = run.search(chunk, budget, warmup, ramp_share=ramp)
                choice = record["choice"]
            elif (arm, chunk) in (("hand", 1), ("hand-late", len(args.budgets) - 1)):
                wider = [c for c in candidates(run.config, args.widths) if c.name.startswith("width-")]
                target, choice = (wider[0].target, wider[0].name) if wider else (None, "keep")
            elif arm == "random":
                pick = choices.choice(candidates(run.config, args.widths))
                target, choice = pick.target or None, pick.name
            run.decisions.append({"before_chunk": chunk, "choice": choice, "search": record})
            print(f"  {name} seed {seed} before chunk {chunk}: {choice}", flush=True)
            if target:
                run.grow(target, chunk)
        run.train(chunk, budget, spent, heldouts, pairs, read_curve=arm == "auto-slope")
    final = run.config
    return {
        "arm": name,
        "seed": seed,
        "setup": setup_key(args),
        "parameters": parameter_count(final),
        "final_config": final.to_dict() if arm == "auto" else None,
        "decisions": run.decisions,
        "chunks": run.chunks,
        "seconds": round(time.perf_counter() - started, 1),
    }


def setup_key(args) -> str:
    """What makes runs comparable: the stream, the budgets and the recipe (not the seeds or the arms)."""
    keys = ("budgets", "concepts_per_chunk", "image_size", "patch_size", "layers", "batch_size", "lr", "base_width")
    keys += ("search_fraction", "widths")
    return json.dumps({k: getattr(args, k) for k in keys}, sort_keys=True)


def load(store: Path, setup: str) -> list[dict]:
    if not store.exists():
        return []
    runs = [json.loads(line) for line in store.read_text().splitlines() if line.strip()]
    return [r for r in runs if r["setup"] == setup]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=WIDTHS)
    parser.add_argument("--budgets", type=float, nargs="+", default=BUDGETS, help="TFLOP per chunk")
    parser.add_argument("--arms", nargs="+", default=None, help="default: every fixed width and growing arm")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    add_recipe_arguments(parser)
    parser.add_argument("--search-fraction", type=float, default=0.15)
    parser.add_argument("--slope-min-gain", type=float, default=0.01, help="auto-slope: the trigger's threshold")
    parser.add_argument(
        "--pairs-per-parameter",
        type=float,
        default=1.0,
        help="auto-compute: the ratio (the precondition map's crossover: width 32 against 16 ties at 0.6, wins at 1.8)",
    )
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    setup = setup_key(args)
    arms = args.arms or [f"fixed-{w}" for w in args.widths] + [
        "auto",
        "auto-warmup",
        "auto-compute",
        "hand",
        "hand-late",
        "random",
        "scratch",
    ]
    if not args.table_only:
        stream, tokenizer = stream_and_tokenizer(args, len(args.budgets))
        heldouts = [stream.heldout(chunk) for chunk in range(len(args.budgets))]
        pairs = [heldout_pairs(stream, chunk, SEARCH_HELDOUT, tokenizer) for chunk in range(len(args.budgets))]
        for seed in args.seeds:
            for arm in arms:
                done = {(r["arm"], r["seed"]) for r in load(args.store, setup)}
                if (arm, seed) in done:
                    continue
                final_config = None
                if arm == "scratch":
                    auto = [r for r in load(args.store, setup) if (r["arm"], r["seed"]) == ("auto", seed)]
                    if not auto:
                        print(f"  scratch seed {seed}: no auto run stored yet; skipped", flush=True)
                        continue
                    twin = scratch_twin(auto[0], args.widths, args.layers)
                    if twin:  # the tables read that fixed arm as scratch
                        print(f"  scratch seed {seed}: auto ended at {twin}")
                        continue
                    final_config = GrowCLIPConfig(**auto[0]["final_config"])
                    final_config.growth_history = []
                record = run_arm(arm, seed, args, stream, tokenizer, heldouts, pairs, final_config)
                args.store.parent.mkdir(parents=True, exist_ok=True)
                with args.store.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
    runs = load(args.store, setup)
    print(tables(runs, args.widths))
    if args.plot:
        print(f"plot: {plot(runs, args.widths, args.plot)}")


if __name__ == "__main__":
    main()
