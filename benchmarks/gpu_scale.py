"""Real-size figures on one accelerator (run by benchmarks/gpu_scale.sh): training throughput of GrowCLIPModel,
transformers' CLIPModel and open_clip at the ViT-B/32 shape, growth error under bf16, and a 2-stage auto run fed by
the loader with several workers.

Run: python benchmarks/gpu_scale.py --out DIR [--batch-size 256] [--rounds 5] [--tiny]
1. Throughput: the three models (same architecture; CLIPModel holds GrowCLIPModel's weights via ``to_clip``), bf16
   autocast, AdamW, measured in interleaved rounds (each round times every model in turn, so load changes hit all
   alike); the ratio is the median over rounds of (its median step time / ours). Where GrowCLIPModel is slower than
   the fastest peer, the largest operators of both are profiled side by side.
2. Growth error: the model grown along every dimension with ``preserve``; max logit difference in fp32 and in bf16.
3. A 2-stage run (``growth.policy: auto``, the shared layer among the candidates) of the stage loop on webdataset
   shards of JPEG pairs written here, read by ``--workers`` loader workers: training pairs/s beside the loader's own
   pairs/s (loader-bound when the loader alone is not clearly faster).
``--tiny`` runs all three on the CPU at a tiny size in seconds (what the test suite runs).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tarfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import hf_peer, make_batch, open_clip_peer  # noqa: E402

from growclip_hf import GrowCLIPConfig, GrowCLIPModel  # noqa: E402
from growclip_hf.models.clip_shapes import clip_shape_config  # noqa: E402
from growclip_hf.models.growclip.conversion_growclip import growclip_config_from_clip  # noqa: E402

VOCAB, TOKENS = 4096, 77
TINY_TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}


def model_config(tiny: bool) -> GrowCLIPConfig:
    if tiny:
        return GrowCLIPConfig(
            text_config={**TINY_TOWER, "vocab_size": VOCAB, "max_position_embeddings": TOKENS},
            vision_config={**TINY_TOWER, "image_size": 32, "patch_size": 16},
            projection_dim=32,
        )
    return growclip_config_from_clip(clip_shape_config("vit-b-32", vocab_size=VOCAB, context_length=TOKENS))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_step(peer, batch, precision: str, device: torch.device) -> float:
    sync(device)
    started = time.perf_counter()
    peer.model.train()
    peer.optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = peer.loss(batch)
    loss.backward()
    peer.optimizer.step()
    sync(device)
    return time.perf_counter() - started


def throughput(config, device, precision: str, batch_size: int, rounds: int, steps: int) -> dict:
    """Interleaved rounds over the peers; pairs/s and the per-round ratio of medians against GrowCLIPModel."""
    torch.manual_seed(0)
    ours = GrowCLIPModel(config)
    peers = [hf_peer("GrowCLIPModel", ours), hf_peer("transformers CLIPModel", ours.to_clip())]
    theirs, reason = open_clip_peer(config, context_length=TOKENS)
    if theirs is not None:
        peers.append(theirs)
    for peer in peers:
        peer.model.to(device)
        peer.optimizer = torch.optim.AdamW(peer.model.parameters(), lr=1e-5)
    batch = {k: v.to(device) for k, v in make_batch(batch_size, config.vision_config.image_size, TOKENS, VOCAB).items()}
    times = {peer.name: [] for peer in peers}
    for peer in peers:
        train_step(peer, batch, precision, device)  # warm-up (kernels, allocator)
    for _ in range(rounds):
        for peer in peers:
            times[peer.name].append([train_step(peer, batch, precision, device) for _ in range(steps)])
    result = {"batch_size": batch_size, "precision": precision, "open_clip": reason or "measured", "rows": []}
    for peer in peers:
        ratios = [
            statistics.median(theirs_) / statistics.median(mine)
            for mine, theirs_ in zip(times["GrowCLIPModel"], times[peer.name], strict=True)
        ]
        median = statistics.median(t for r in times[peer.name] for t in r)
        result["rows"].append(
            {"model": peer.name, "pairs_per_s": batch_size / median, "ours_speed_over_it": statistics.median(ratios)}
        )
    fastest = max(result["rows"], key=lambda row: row["pairs_per_s"])
    if fastest["model"] != "GrowCLIPModel":
        result["profile"] = profile(
            [p for p in peers if p.name in ("GrowCLIPModel", fastest["model"])], batch, precision, device
        )
    return result


def profile(peers, batch, precision: str, device: torch.device, top: int = 8) -> dict:
    """The largest operators of a training step of each peer (self time on the device where there is one)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    found = {}
    for peer in peers:
        with torch_profile(activities=activities) as prof:
            train_step(peer, batch, precision, device)
        key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
        events = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0), reverse=True)
        total = sum(getattr(e, key, 0) for e in events) or 1
        found[peer.name] = [(e.key, round(getattr(e, key, 0) / total, 3)) for e in events[:top]]
    return found


def growth_error(config, device, tiny: bool) -> dict:
    """Max logit difference after growing every dimension with preserve, fp32 and under bf16 autocast."""
    torch.manual_seed(0)
    model = GrowCLIPModel(config).to(device).eval()
    vision, text = config.vision_config, config.text_config

    def grown_tower(sub, heads_step: int) -> dict:
        head = sub.hidden_size // sub.num_attention_heads
        heads = sub.num_attention_heads + heads_step
        return {
            "num_hidden_layers": sub.num_hidden_layers + 1,
            "num_attention_heads": heads,
            "hidden_size": heads * head,
            "intermediate_size": sub.intermediate_size * 5 // 4,
        }

    target = {
        "vision_config": grown_tower(vision, 2),
        "text_config": grown_tower(text, 2),
        "shared_config": {"num_hidden_layers": 1},
        "projection_dim": config.projection_dim + 64,
    }
    grown = model.grow(target, init="preserve", seed=0).eval()
    batch = {k: v.to(device) for k, v in make_batch(8, vision.image_size, TOKENS, VOCAB).items()}
    errors = {}
    for precision in ("fp32", "bf16"):
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            before = model(**batch).logits_per_image.float()
            after = grown(**batch).logits_per_image.float()
        errors[precision] = (after - before).abs().max().item()
    return {"target": target, "max_logit_difference": errors}


def write_jpeg_stream(root: Path, pairs: int, size: int, shards: int = 8) -> Path:
    """``shards`` webdataset tars of ``pairs`` JPEG pairs (coloured noise with a caption naming the colour)."""
    from PIL import Image

    colours = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
    rng = random.Random(0)
    root.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with tarfile.open(root / f"pairs-{shard:05d}.tar", "w") as tar:
            for index in range(shard, pairs, shards):
                colour = colours[index % len(colours)]
                image = Image.new("RGB", (size, size), colour)
                noise = Image.effect_noise((size, size), 40).convert("RGB")
                picture = Image.blend(image, noise, 0.3)
                buffer = io.BytesIO()
                picture.save(buffer, format="JPEG", quality=90)
                caption = f"a {rng.choice(['photo', 'picture', 'square'])} of {colour}"
                for suffix, data in (("jpg", buffer.getvalue()), ("txt", caption.encode())):
                    info = tarfile.TarInfo(f"{index:07d}.{suffix}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
    return root


def loader_rate(stream: Path, processor, batch_size: int, workers: int, batches: int) -> float:
    """Pairs/s of the loader alone (decode, transform, tokenise, collate), after its first batch."""
    from growclip_hf.data import SourceSpec, create_loader

    spec = SourceSpec(str(stream / "*.tar"), image_column="jpg", text_column="txt")
    loader = iter(create_loader(spec, processor, batch_size=batch_size, num_workers=workers, shuffle_buffer=256))
    next(loader)
    started, count = time.perf_counter(), 0
    for _ in range(batches):
        try:
            count += len(next(loader)["input_ids"])
        except StopIteration:
            break
    return count / max(time.perf_counter() - started, 1e-9)


def staged_run(config, out: Path, device, precision: str, batch_size: int, workers: int, steps: int) -> dict:
    """Two stages of the stage loop with the auto search, fed from JPEG webdataset shards by ``workers`` workers."""
    from growclip_hf.stages.launch import build_run

    size = config.vision_config.image_size
    pairs = batch_size * (steps + 6) * 2
    stream = out / "stream"
    for year in (0, 1):
        write_jpeg_stream(stream / f"chunk-{year}", pairs // 2, size)
    model = {name: {key: getattr(getattr(config, name), key) for key in keys} for name, keys in RUN_MODEL_KEYS.items()}
    settings = {
        "model": {**model, "projection_dim": config.projection_dim},  # the tokenizer is learnt from the captions
        "tokenizer": {"vocab_size": 512, "context_length": TOKENS, "sample_size": 500},
        "training": {
            "batch_size": batch_size,
            "steps_per_stage": steps,
            "checkpoint_every": 10**6,
            "log_every": 1,
            "warmup_steps": 1,
            "tracker": None,
            "mixed_precision": precision if device.type == "cuda" else "no",
        },
        "growth": {"policy": "auto", "max_search_fraction": 0.5, "min_proxy_steps": 1, "max_proxy_steps": 2},
        **({"growth": TINY_GROWTH} if device.type == "cpu" else {}),
        "data": {
            "chunks": [{"name": f"chunk-{k}", "source": str(stream / f"chunk-{k}")} for k in (0, 1)],
            "image_column": "jpg",
            "text_column": "txt",
            "heldout_fraction": 0.1,
            "heldout_pairs": batch_size,
            "num_workers": workers,
        },
    }
    run = build_run(settings, out / "run")
    started = time.perf_counter()
    run.run()
    seconds = time.perf_counter() - started
    records = [json.loads(line) for line in (out / "run" / "train_log.jsonl").read_text().splitlines()]
    rate = statistics.median(r["samples_per_s"] for r in records[1:] or records)
    decision = json.loads((out / "run" / "growth_log.jsonl").read_text().splitlines()[-1])
    loader = loader_rate(stream / "chunk-1", run.processor, batch_size, workers, batches=steps)
    return {
        "workers": workers,
        "torch_threads": torch.get_num_threads(),
        "train_pairs_per_s": rate,
        "loader_pairs_per_s": loader,
        "loader_bound": loader < 1.2 * rate,
        "seconds": seconds,
        "choice": decision.get("choice"),
        "candidates": [c["name"] for c in decision.get("search", {}).get("candidates", [])],
    }


# On the CPU check the search reaches the shared layer within its bound: keep and the first shared layer only.
TINY_GROWTH = {
    "policy": "auto",
    "budget_exponent": 1.0,  # a tiny model's shared layer is a large share of it
    "max_search_fraction": 1.0,
    "min_proxy_steps": 1,
    "max_proxy_steps": 1,
    "space": {"depth_step": 0, "width_factor": 1.0, "heads_step": 0, "mlp_factor": 1.0},
}
_TOWER_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "hidden_act")
RUN_MODEL_KEYS = {
    "text_config": (*_TOWER_KEYS, "max_position_embeddings"),
    "vision_config": (*_TOWER_KEYS, "image_size", "patch_size"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for results.json, the stream and the run")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per model and round")
    parser.add_argument("--workers", type=int, default=6, help="loader workers of the 2-stage run")
    parser.add_argument("--run-steps", type=int, default=20, help="steps per stage of the 2-stage run")
    parser.add_argument("--tiny", action="store_true", help="CPU, tiny model, fp32: the script's own check")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    precision = "bf16" if device.type == "cuda" else "fp32"
    if args.tiny:
        args.batch_size, args.rounds, args.steps, args.workers, args.run_steps = 8, 1, 1, 1, 3
    config = model_config(args.tiny)
    results = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "torch": torch.__version__}
    stages = (
        ("throughput", lambda: throughput(config, device, precision, args.batch_size, args.rounds, args.steps)),
        ("growth_error", lambda: growth_error(config, device, args.tiny)),
        (
            "staged_run",
            lambda: staged_run(config, out, device, precision, args.batch_size, args.workers, args.run_steps),
        ),
    )
    for name, measure in stages:
        started = time.perf_counter()
        results[name] = measure()
        results[name]["wall_seconds"] = round(time.perf_counter() - started, 1)
        (out / "results.json").write_text(json.dumps(results, indent=2))  # what finished survives a timeout
        print(json.dumps({name: results[name]}), flush=True)
    print("| model | pairs/s | GrowCLIPModel's speed over it |\n|---|---:|---:|")
    for row in results["throughput"]["rows"]:
        print(f"| {row['model']} | {row['pairs_per_s']:.1f} | {row['ours_speed_over_it']:.2f}x |")


if __name__ == "__main__":
    main()
