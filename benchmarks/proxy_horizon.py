"""How long must a growth proxy be to rank candidates as the end of the stage does?

At one chunk boundary of ``growth_sweep.py``'s stream, the smallest width is trained through the earlier chunks
exactly as that sweep's fixed arm (same pairs, same schedule), then each candidate (keep, the next width, one more
layer) trains on the new chunk's pairs, all on the same batches, with the stage's own warmup and peak rate, up to
``--horizon`` of the chunk's FLOP budget. Its held-out loss (the search's 512 pairs of the new chunk) is read at equal
FLOPs along the way, so the table shows, at each share of the budget, which candidate a proxy that long would pick.
The end of the stage itself (after its decay) is what ``growth_sweep.py``'s ``fixed-16`` and ``hand-late`` arms give.

  .venv/bin/python benchmarks/proxy_horizon.py --seed 0 --boundary 2 --horizon 0.5
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from concept_runs import (  # noqa: E402
    WARMUP_SHARE,
    add_recipe_arguments,
    batch,
    heldout_pairs,
    model_config,
    new_trainer,
    stream_and_tokenizer,
    train_chunk,
)
from growth_sweep import BUDGETS, SEARCH_HELDOUT, WIDTHS, candidates  # noqa: E402

from growclip_hf import GrowCLIPModel  # noqa: E402
from growclip_hf.growth.flops import steps_within_budget, training_flops_per_pair  # noqa: E402
from growclip_hf.growth.search import heldout_loss  # noqa: E402
from growclip_hf.training.optimizer_transfer import transfer_optimizer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--boundary", type=int, default=2, help="the chunk the candidates are grown for")
    parser.add_argument("--horizon", type=float, default=0.5, help="share of the chunk's budget each candidate trains")
    parser.add_argument("--readings", type=int, default=10)
    parser.add_argument("--widths", type=int, nargs="+", default=WIDTHS)
    parser.add_argument("--budgets", type=float, nargs="+", default=BUDGETS, help="TFLOP per chunk (the sweep's)")
    add_recipe_arguments(parser)
    args = parser.parse_args()
    stream, tokenizer = stream_and_tokenizer(args, len(args.budgets))
    torch.manual_seed(args.seed)
    config = model_config(min(args.widths), args.layers, args.image_size, args.patch_size, tokenizer)
    trainer = new_trainer(GrowCLIPModel(config), args.lr, args.base_width, args.batch_size, args.seed)
    for chunk in range(args.boundary):  # the fixed arm's history, pair for pair
        steps = steps_within_budget(args.budgets[chunk] * 1e12, args.batch_size, config, text_tokens=16)
        train_chunk(trainer, stream, chunk, steps, np.random.default_rng([args.seed, chunk]), tokenizer)
    budget = args.budgets[args.boundary] * 1e12
    heldout = heldout_pairs(stream, args.boundary, SEARCH_HELDOUT, tokenizer, seed=4242 + args.seed)
    checkpoints = [args.horizon * budget * (i + 1) / args.readings for i in range(args.readings)]
    curves = {}
    for candidate in candidates(trainer.unwrapped_model.config, args.widths):
        curves[candidate.name] = curve(trainer, candidate, budget, checkpoints, heldout, stream, args, tokenizer)
    print(f"seed {args.seed}, boundary before chunk {args.boundary + 1}, budget {args.budgets[args.boundary]} TFLOP")
    names = list(curves)
    print("| share of the chunk's budget | " + " | ".join(names) + " | a proxy this long picks |")
    print("|---:|" + "---:|" * (len(names) + 1))
    for index, flops in enumerate(checkpoints):
        losses = {name: curves[name][index] for name in names}
        cells = " | ".join(f"{losses[name]:.3f}" for name in names)
        print(f"| {flops / budget:.2f} | {cells} | {min(losses, key=losses.get)} |")


def curve(trainer, candidate, budget, checkpoints, heldout, stream, args, tokenizer) -> list[float]:
    """The candidate's held-out loss at each FLOP checkpoint, trained as the first part of its own stage."""
    model = trainer.unwrapped_model
    grown = model.grow(candidate.target, init="preserve", seed=args.seed) if candidate.target else copy.deepcopy(model)
    trial = new_trainer(grown, args.lr, args.base_width, args.batch_size, args.seed)
    trial.install(grown, transfer_optimizer(trainer.optimizer, model, grown))  # the model's AdamW state, carried over
    per_step = args.batch_size * training_flops_per_pair(trial.unwrapped_model.config, 16)
    stage_steps = int(budget // per_step)
    warmup = max(1, round(stage_steps * WARMUP_SHARE))
    rng = np.random.default_rng([args.seed, args.boundary, 7])  # the same batches for every candidate
    losses, step = [], 0
    for target in checkpoints:
        while (step + 1) * per_step <= target:
            images, captions = stream.sample(args.boundary, args.batch_size, rng)
            trial.step([batch(images, captions, tokenizer)], args.lr * min(1.0, (step + 1) / warmup))
            step += 1
        losses.append(heldout_loss(trial.unwrapped_model, heldout))
        trial.unwrapped_model.train()
    print(f"  {candidate.name}: {step} steps of {stage_steps}", flush=True)
    return losses


if __name__ == "__main__":
    main()
