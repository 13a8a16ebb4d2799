"""Real CLIP sizes on CPU: parameters, peak memory and time of a training step, the growth search's extra memory,
checkpoint size and write time, for the ViT-B/32, ViT-B/16 and ViT-L/14 shapes.

Run: .venv/bin/python benchmarks/real_sizes.py [--shapes vit-b-32 vit-b-16 vit-l-14] [--doc docs/benchmarks.md]
     [--previous OUTPUT_OF_AN_EARLIER_RUN] [--search-shapes ...] [--bf16-shapes ...]
Each shape and precision runs in a process of its own, so the peak resident memory (ru_maxrss) is that run's alone.
A model has the published config's sizes (random weights, 1,000-token vocabulary), converted from transformers'
CLIPModel, and trains with the project's step engine (StreamTrainer: AdamW, feature-cached contrastive loss) on
batches of 8 random 224 px images and 77-token captions. After the fp32 steps the process runs the growth search
(growth.search.run_search with the stage loop's ProxyTrainer: "keep", the first shared layer and the widest vision
step, one proxy step each, one candidate and its optimizer alive at a time, the model's own AdamW state, and its
weights while a candidate trains, parked on disk as the stage loop parks them), then writes one training checkpoint
(training.checkpointing.save_checkpoint: model, optimizer, RNG). bf16 is CPU autocast (Accelerate's
mixed_precision="bf16"), emulated on CPUs without bf16 instructions: it is timed on fewer steps.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

SHAPE_NAMES = {"vit-b-32": "ViT-B/32", "vit-b-16": "ViT-B/16", "vit-l-14": "ViT-L/14"}
VOCAB, CONTEXT, BATCH = 1000, 77, 8
GB = 1e9


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def random_batch(config, batch: int, seed: int) -> dict:
    """Images and captions of the model's sizes; each caption ends in the end token (the highest id: pooled there)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    vision, text = config.vision_config, config.text_config
    pixels = torch.randn(batch, vision.num_channels, vision.image_size, vision.image_size, generator=generator)
    ids = torch.randint(3, text.vocab_size - 1, (batch, CONTEXT), generator=generator)
    ids[:, -1] = text.vocab_size - 1
    return {"pixel_values": pixels, "input_ids": ids, "attention_mask": torch.ones_like(ids)}


def build_model(shape: str):
    import torch
    from transformers import CLIPModel

    from growclip_hf import GrowCLIPModel
    from growclip_hf.models.clip_shapes import clip_shape_config

    torch.manual_seed(0)
    clip = CLIPModel(clip_shape_config(shape, vocab_size=VOCAB, context_length=CONTEXT))
    model = GrowCLIPModel.from_clip(clip)
    del clip
    return model


def timed_steps(trainer, batch: dict, steps: int) -> list[float]:
    """Seconds of each of ``steps`` optimizer steps, after one untimed warm-up step."""
    trainer.step([batch], 1e-5)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        trainer.step([batch], 1e-5)
        times.append(time.perf_counter() - started)
    return times


def measure_search(trainer, batch: dict) -> tuple[float, list[str]]:
    """Seconds of a search over keep, the first shared layer and the widest vision step (one proxy step each)."""
    from growclip_hf.growth import GrowthSpace, SearchSettings, run_search
    from growclip_hf.training.optimizer_spill import spilled_optimizer_state
    from growclip_hf.training.proxy import ProxyTrainer

    model = trainer.unwrapped_model
    trainer.release_gradients()  # as the stage loop does before it searches
    wanted = ("keep", "shared-depth", "vision-width")
    candidates = [c for c in GrowthSpace().candidates(model.config) if c.name in wanted]
    settings = SearchSettings(max_search_fraction=1.0, min_proxy_steps=1, max_proxy_steps=1)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as spill, spilled_optimizer_state(trainer.optimizer, Path(spill) / "state"):
        proxy = ProxyTrainer(model, trainer.optimizer, [batch], learning_rate=1e-5, park_dir=Path(spill) / "weights")
        result = run_search(model, candidates, proxy, BATCH, batch, stage_flops=1e30, settings=settings, seed=0)
    return time.perf_counter() - started, [s["name"] for s in result.scores]


def measure_checkpoint(trainer) -> tuple[float, int]:
    """(seconds, bytes) of one training checkpoint as the stage loop writes it."""
    from growclip_hf.training.checkpointing import save_checkpoint

    root = Path(tempfile.mkdtemp(prefix="real-sizes-"))
    try:
        started = time.perf_counter()
        folder = save_checkpoint(
            trainer.accelerator, root, 1, {"run": {}}, trainer.unwrapped_model.config.to_dict(), keep_last=1
        )
        seconds = time.perf_counter() - started
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        return seconds, size
    finally:
        shutil.rmtree(root, ignore_errors=True)


def child(shape: str, precision: str, steps: int, search: bool) -> dict:
    """One shape at one precision, in this process: the record the table is made of."""
    import torch
    from accelerate import Accelerator

    from growclip_hf.training.config import TrainingConfig
    from growclip_hf.training.trainer import StreamTrainer

    model = build_model(shape)
    params = sum(p.numel() for p in model.parameters())
    batch = random_batch(model.config, BATCH, seed=0)
    accelerator = Accelerator(cpu=True, mixed_precision=precision)
    config = TrainingConfig(batch_size=BATCH, tracker=None, mixed_precision=precision, warmup_steps=0)
    trainer = StreamTrainer(config, model, accelerator=accelerator)
    record = {"shape": shape, "precision": precision, "parameters": params, "threads": torch.get_num_threads()}
    record["step_seconds"] = timed_steps(trainer, batch, steps)
    record["train_peak_bytes"] = peak_rss_bytes()
    if precision == "no" and search:
        record["search_seconds"], record["search_candidates"] = measure_search(trainer, batch)
        record["search_peak_bytes"] = peak_rss_bytes()
    if precision == "no":
        record["checkpoint_seconds"], record["checkpoint_bytes"] = measure_checkpoint(trainer)
    return record


def run_child(shape: str, precision: str, steps: int, search: bool, timeout: int) -> dict | None:
    command = [sys.executable, __file__, "--child", shape, "--precision", precision, "--steps", str(steps)]
    command += [] if search else ["--no-search"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{shape} {precision}: over {timeout} s, left out", file=sys.stderr)
        return None
    if done.returncode != 0:
        print(f"{shape} {precision} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _gb(value) -> str:
    return f"{value / GB:.2f}" if value is not None else "n/a"


def table(records: dict) -> str:
    """One row per shape: fp32 and bf16 step, peaks, search overhead, checkpoint."""
    lines = [
        "| shape | parameters | weights + AdamW state (GB) | fp32 step, batch 8 (s) | fp32 training peak (GB) "
        "| bf16 step, batch 8 (s) | search peak (GB) | search over training (GB) | search peak / (weights + AdamW) "
        "| checkpoint (GB) | checkpoint write (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for shape, runs in records.items():
        fp32, bf16 = runs.get("no"), runs.get("bf16")
        if fp32 is None:
            continue
        state = fp32["parameters"] * 4 * 3  # fp32 weights plus AdamW's two moments
        search_peak = fp32.get("search_peak_bytes")
        over = search_peak - fp32["train_peak_bytes"] if search_peak else None
        ratio = f"{search_peak / state:.2f}" if search_peak else "not measured"
        bf16_step = f"{statistics.median(bf16['step_seconds']):.1f}" if bf16 else "not measured"
        lines.append(
            f"| {SHAPE_NAMES[shape]} | {fp32['parameters'] / 1e6:.1f}M | {state / GB:.2f} "
            f"| {statistics.median(fp32['step_seconds']):.1f} | {_gb(fp32['train_peak_bytes'])} | {bf16_step} "
            f"| {_gb(search_peak) if search_peak else 'not measured'} | {_gb(over) if over is not None else 'n/a'} "
            f"| {ratio} | {_gb(fp32['checkpoint_bytes'])} | {fp32['checkpoint_seconds']:.1f} |"
        )
    return "\n".join(lines)


def section(records: dict, command: str, notes: list[str]) -> str:
    from doc_sections import git_commit, library_versions, machine

    load = os.getloadavg()[0]
    versions = library_versions("torch", "transformers", "accelerate")
    text = f"""## Real sizes on CPU: memory, step time, search and checkpoints

`{command}` ({machine()}, load average {load:.1f} when it ended; {versions}; commit {git_commit()}).

Random weights of the published configs' sizes (1,000-token vocabulary), converted from transformers' `CLIPModel`,
trained by the project's step engine at batch 8 (224 px images, 77-token captions), each shape and precision in a
process of its own. Step: median of the timed steps after a warm-up step. Peak: the process's peak resident memory.
Search: "keep", the first shared layer and the widest vision step, one proxy step each, as the stage loop runs it
(one candidate and its optimizer alive at a time, the model's gradients freed and its AdamW state parked on disk);
"over training" is its peak minus the training peak, and the ratio compares it with the fp32 weights and AdamW state
of the model before growth. Checkpoint: one training checkpoint
(model, AdamW state, RNG) as the stage loop writes it; a run keeps `training.keep_last_checkpoints` of them (default
2), so its checkpoints take twice this on disk.

{table(records)}
"""
    return text + "".join(f"\n- {note}" for note in notes) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes", nargs="*", default=list(SHAPE_NAMES), choices=list(SHAPE_NAMES), help="none: tabulate --previous"
    )
    parser.add_argument("--steps", type=int, default=2, help="timed fp32 steps per shape (after one warm-up step)")
    parser.add_argument("--bf16-steps", type=int, default=1, help="timed bf16 steps per shape (0: no bf16)")
    parser.add_argument("--bf16-shapes", nargs="*", default=None, help="shapes timed in bf16 (default: all)")
    parser.add_argument(
        "--search-shapes", nargs="*", default=None, help="shapes whose search is measured (default all)"
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds one measuring process may take")
    parser.add_argument("--doc", help="write the table into this page's real-sizes section")
    parser.add_argument("--note", action="append", default=[], help="a line added under the table")
    parser.add_argument(
        "--previous",
        help="this script's printed output from an earlier run: its shapes join the table (re-measured "
        "shapes replace them), so shapes can be measured one at a time",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="no", help=argparse.SUPPRESS)
    parser.add_argument("--no-search", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.precision, args.steps, not args.no_search)))
        return
    records = {}
    if args.previous:
        for line in Path(args.previous).read_text().splitlines():
            if line.startswith('{"vit-'):
                records.update(json.loads(line))
    for shape in args.shapes:
        search = args.search_shapes is None or shape in args.search_shapes
        records[shape] = {"no": run_child(shape, "no", args.steps, search, args.timeout)}
        if args.bf16_steps > 0 and (args.bf16_shapes is None or shape in args.bf16_shapes):
            records[shape]["bf16"] = run_child(shape, "bf16", args.bf16_steps, False, args.timeout)
        print(json.dumps({shape: records[shape]}), flush=True)
    print(table(records))
    if args.doc:
        sys.path.insert(0, str(Path(__file__).parent))
        from doc_sections import write_section

        shown, skip = [], False  # the notes are printed under the table, not in the command
        for argument in sys.argv[1:]:
            if skip or argument == "--note":
                skip = argument == "--note"
                continue
            shown.append(argument)
        command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *shown])
        write_section(args.doc, "real-sizes", section(records, command, args.note))


if __name__ == "__main__":
    main()
