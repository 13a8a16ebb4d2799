"""Step time of each continual strategy relative to SeqF, in one run, same model, same batches.

Run: .venv/bin/python benchmarks/strategies.py [--steps 20] [--batch-size 64] [--threads 2]
Strategies run at their second task (teachers in place), on real batches of the embedded benchmark.
JointT and ER change what is streamed, not the step, so their step cost is SeqF's (measured anyway).
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from accelerate import Accelerator  # noqa: E402

from growclip_hf import GrowCLIPConfig, GrowCLIPModel, build_processor  # noqa: E402
from growclip_hf.continual import STRATEGIES, build_strategy  # noqa: E402
from growclip_hf.stages.launch import apply_overrides  # noqa: E402
from growclip_hf.stages.manifest_plan import ManifestPlan, tokenizer_for_manifest  # noqa: E402
from growclip_hf.stages.presets import preset  # noqa: E402
from growclip_hf.training import StreamTrainer, TrainingConfig  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from previous_default import overrides  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="outputs/results/data", help="A benchmark folder (growclip-hf data build).")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = apply_overrides(preset("default"), overrides("default"))  # the recipe its stored timings used
    tokenizer = tokenizer_for_manifest(args.data, **settings["tokenizer"])
    text = {**settings["model"]["text_config"], "vocab_size": len(tokenizer)}
    config = GrowCLIPConfig(**{**settings["model"], "text_config": text})
    processor = build_processor(config, tokenizer)
    batches = ManifestPlan(args.data, processor).loader(1, 0, 1, args.batch_size, seed=0)
    data = [next(batches) for _ in range(args.steps + 3)]
    torch.manual_seed(0)
    base = GrowCLIPModel(config)
    accelerator = Accelerator(cpu=True)
    rows = []
    for name in STRATEGIES:
        model = copy.deepcopy(base)
        trainer = StreamTrainer(TrainingConfig(batch_size=args.batch_size), model, accelerator=accelerator)
        options = {"global_batch_size": args.batch_size} if name == "modx" else {}
        strategy = build_strategy(name, **options)
        strategy.on_task_start(1, trainer.unwrapped_model, copy.deepcopy(base), None)
        extra = strategy.extra_loss if strategy.has_extra_loss else None
        times = []
        for index, batch in enumerate(data):
            started = time.perf_counter()
            trainer.step([batch], lr=1e-4, extra_loss=extra)
            strategy.after_step(trainer.unwrapped_model)
            if index >= 3:
                times.append(time.perf_counter() - started)
        rows.append((name, statistics.median(times)))
    reference = dict(rows)["seqf"]
    print(f"strategies: batch {args.batch_size}, {args.steps} timed steps (median), {args.threads} threads, CPU fp32\n")
    print("| strategy | ms / step | relative to SeqF |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {1000 * seconds:.0f} | {seconds / reference:.2f}x |")


if __name__ == "__main__":
    main()
