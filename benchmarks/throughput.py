"""Training and inference throughput of GrowCLIPModel, transformers' CLIPModel (the same weights, via ``to_clip``) and
open_clip's CLIP (the same architecture), plus a plain fp32 matmul for model FLOP utilisation: one process, one torch,
the same threads, batch and architecture. Measurements are interleaved (round robin over the models), so a change in
machine load hits every model alike and the ratios stay fair.

open_clip needs torchvision, which imports only beside torch 2.14.1 here: run this script in the benchmark
environment that ``make bench-env`` builds (``.venv-bench``). In an environment without open_clip its row says why.

Run: .venv-bench/bin/python benchmarks/throughput.py [--batch-size 64] [--rounds 10] [--steps 4] [--threads 2]
     [--compile] [--profile] [--doc docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch  # noqa: E402

from growclip_hf import GrowCLIPConfig, GrowCLIPModel  # noqa: E402
from growclip_hf.growth.flops import forward_flops_per_pair, training_flops_per_pair  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from doc_sections import git_commit, library_versions, machine, write_section  # noqa: E402

TEXT_TOKENS = 32
IMAGE_SIZE = 64
PATCH = 8
VOCAB = 4096


def benchmark_config(width: int, layers: int, heads: int) -> GrowCLIPConfig:
    tower = {"hidden_size": width, "intermediate_size": 4 * width, "num_hidden_layers": layers}
    tower |= {"num_attention_heads": heads, "hidden_act": "gelu"}
    return GrowCLIPConfig(
        text_config={**tower, "vocab_size": VOCAB, "max_position_embeddings": TEXT_TOKENS},
        vision_config={**tower, "image_size": IMAGE_SIZE, "patch_size": PATCH},
        projection_dim=width,
    )


def make_batch(size: int, image_size: int = IMAGE_SIZE, tokens: int = TEXT_TOKENS, vocab: int = VOCAB) -> dict:
    """Captions as the tokenizer delivers them: 8-``tokens`` tokens ending in eos (id 1), right-padded (id 2), with a
    mask."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(8, tokens + 1, (size,), generator=generator)
    attention_mask = (torch.arange(tokens)[None] < lengths[:, None]).long()
    ids = torch.randint(3, vocab, (size, tokens), generator=generator).masked_fill(attention_mask == 0, 2)
    ids[torch.arange(size), lengths - 1] = 1
    pixels = torch.randn(size, 3, image_size, image_size, generator=generator)
    return {"input_ids": ids, "attention_mask": attention_mask, "pixel_values": pixels}


@dataclass
class Peer:
    """One implementation under test: how it computes the training loss and the two embeddings."""

    name: str
    model: torch.nn.Module
    loss: callable
    embed: callable
    train_times: list = field(default_factory=list)
    infer_times: list = field(default_factory=list)

    def __post_init__(self):
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-4)

    def train_step(self, batch) -> None:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(batch).backward()
        self.optimizer.step()

    def infer_step(self, batch) -> None:
        self.model.eval()
        with torch.inference_mode():
            self.embed(batch)


def hf_peer(name: str, model) -> Peer:
    return Peer(
        name,
        model,
        loss=lambda batch: model(**batch, return_loss=True).loss,
        embed=lambda batch: (
            model.get_image_features(batch["pixel_values"]),
            model.get_text_features(batch["input_ids"], batch["attention_mask"]),
        ),
    )


def fuse_qkv(model: GrowCLIPModel) -> GrowCLIPModel:
    """Experiment: one matrix product for query, key and value (weights concatenated per call) in every attention."""
    from torch.nn import functional as F

    from growclip_hf.models.growclip.modeling_growclip_layers import GrowCLIPAttention

    def fused_forward(self, hidden_states, attention_mask=None, is_causal=False):
        batch, length, _ = hidden_states.shape
        weight = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])
        bias = torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
        qkv = F.linear(hidden_states, weight, bias).view(batch, length, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)
        causal = is_causal and attention_mask is None
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, is_causal=causal, scale=self.scale
        )
        return self.out_proj(attended.transpose(1, 2).reshape(batch, length, -1))

    for module in model.modules():
        if isinstance(module, GrowCLIPAttention):
            module.forward = fused_forward.__get__(module)
    return model


def open_clip_peer(config: GrowCLIPConfig, context_length: int = TEXT_TOKENS) -> tuple[Peer | None, str | None]:
    """open_clip's CLIP with the same tower shapes, or the reason it cannot run in this environment."""
    try:
        from open_clip.loss import ClipLoss
        from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    except Exception as error:  # torchvision from PyPI does not import beside the CPU torch 2.13 build
        return None, f"{type(error).__name__}: {error}".splitlines()[0][:160] + " (run it in .venv-bench)"
    vision, text = config.vision_config, config.text_config
    model = CLIP(
        embed_dim=config.projection_dim,
        vision_cfg=CLIPVisionCfg(
            layers=vision.num_hidden_layers,
            width=vision.hidden_size,
            head_width=vision.hidden_size // vision.num_attention_heads,
            mlp_ratio=vision.intermediate_size / vision.hidden_size,
            patch_size=vision.patch_size,
            image_size=vision.image_size,
        ),
        text_cfg=CLIPTextCfg(
            context_length=context_length,
            vocab_size=text.vocab_size,
            width=text.hidden_size,
            heads=text.num_attention_heads,
            layers=text.num_hidden_layers,
            mlp_ratio=text.intermediate_size / text.hidden_size,
        ),
    )
    criterion = ClipLoss()

    def loss(batch):  # open_clip's text tower takes no padding mask: causal attention only, as in OpenAI's CLIP
        image, caption, scale = model(batch["pixel_values"], batch["input_ids"])
        return criterion(image, caption, scale)

    def embed(batch):
        return model.encode_image(batch["pixel_values"]), model.encode_text(batch["input_ids"])

    return Peer("open_clip CLIP", model, loss, embed), None


def matmul_peak(size: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of a plain fp32 square matmul: the ceiling model FLOP utilisation is measured against."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - started)
    return 2 * size**3 / statistics.median(times)


def timed(step, batch) -> float:
    started = time.perf_counter()
    step(batch)
    return time.perf_counter() - started


def measure(peers: list[Peer], batch: dict, rounds: int, steps: int, warmup: int = 2) -> None:
    """Round robin: each round times ``steps`` training and inference steps of every model in turn."""
    for peer in peers:
        for _ in range(warmup):
            peer.train_step(batch)
            peer.infer_step(batch)
    for _ in range(rounds):
        for peer in peers:
            peer.train_times.append([timed(peer.train_step, batch) for _ in range(steps)])
            peer.infer_times.append([timed(peer.infer_step, batch) for _ in range(steps)])


def median_time(rounds: list[list[float]]) -> float:
    return statistics.median(t for times in rounds for t in times)


def speed_ratio(ours: Peer, other: Peer) -> str:
    """GrowCLIP's training speed over ``other``'s: median and range of the per-round ratios (same load in a round)."""
    ratios = sorted(
        statistics.median(theirs) / statistics.median(mine)
        for mine, theirs in zip(ours.train_times, other.train_times, strict=True)
    )
    return f"{statistics.median(ratios):.2f}x [{ratios[0]:.2f}-{ratios[-1]:.2f}]"


def build_peers(config: GrowCLIPConfig, compile_model: bool, fused_qkv: bool) -> tuple[list[Peer], str | None]:
    torch.manual_seed(0)
    ours = GrowCLIPModel(config)
    peers = [hf_peer("GrowCLIPModel", ours), hf_peer("transformers CLIPModel", ours.to_clip())]
    theirs, reason = open_clip_peer(config)
    if theirs is not None:
        peers.append(theirs)

    def copy_of_ours() -> GrowCLIPModel:
        model = GrowCLIPModel(config)
        model.load_state_dict(ours.state_dict())
        return model

    if fused_qkv:
        peers.append(hf_peer("GrowCLIPModel, fused QKV (experiment)", fuse_qkv(copy_of_ours())))
    if compile_model:
        peers.append(hf_peer("GrowCLIPModel + torch.compile (experiment)", torch.compile(copy_of_ours())))
    return peers, reason


def check_same_function(peers: list[Peer], batch: dict, tolerance: float = 1e-4) -> None:
    """Every transformers-style row must compute GrowCLIPModel's logits (same weights) before its speed counts."""
    with torch.no_grad():
        reference = peers[0].model(**batch).logits_per_image
        for peer in peers[1:]:
            if peer.name.startswith("open_clip"):
                continue  # its own weights and pooling: same architecture and FLOPs, not the same function
            difference = (peer.model(**batch).logits_per_image - reference).abs().max().item()
            if difference > tolerance:
                raise AssertionError(f"{peer.name} differs from GrowCLIPModel by {difference:.2e} in the logits")


def table(peers: list[Peer], config, batch_size: int, peak: float) -> str:
    train_flops = training_flops_per_pair(config, TEXT_TOKENS) * batch_size
    infer_flops = forward_flops_per_pair(config, TEXT_TOKENS) * batch_size
    lines = [
        "| model | train steps/s | train pairs/s | train MFU | inference pairs/s | inference MFU "
        "| GrowCLIPModel's training speed over this one |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for peer in peers:
        train, infer = median_time(peer.train_times), median_time(peer.infer_times)
        lines.append(
            f"| {peer.name} | {1 / train:.2f} | {batch_size / train:.0f} | {train_flops / train / peak:.0%} "
            f"| {batch_size / infer:.0f} | {infer_flops / infer / peak:.0%} "
            f"| {speed_ratio(peers[0], peer) if peer is not peers[0] else ''} |"
        )
    return "\n".join(lines)


def profile_table(peers: list[Peer], batch: dict, top: int = 6) -> str:
    """Where a training step spends its time, per model: the largest operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    lines = ["| model | share of a training step's CPU time, largest operators |", "|---|---|"]
    for peer in peers:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            peer.train_step(batch)
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events)
        shares = ", ".join(f"{e.key} {e.self_cpu_time_total / total:.0%}" for e in events[:top])
        lines.append(f"| {peer.name} | {shares} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=10, help="Round-robin passes over the models.")
    parser.add_argument("--steps", type=int, default=4, help="Timed steps per model and round.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--matmul-size", type=int, default=1024, help="Side of the square matmul that sets the peak.")
    parser.add_argument("--compile", action="store_true", help="Add a torch.compile'd GrowCLIPModel row.")
    parser.add_argument("--fused-qkv", action="store_true", help="Add a row with query/key/value fused (experiment).")
    parser.add_argument("--profile", action="store_true", help="Add a table of each model's largest operators.")
    parser.add_argument("--doc", help="Also write the section into this page, e.g. docs/benchmarks.md.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = benchmark_config(args.width, args.layers, args.heads)
    batch = make_batch(args.batch_size)
    peers, skipped = build_peers(config, args.compile, args.fused_qkv)
    check_same_function(peers, batch)
    peak = matmul_peak(args.matmul_size)
    measure(peers, batch, args.rounds, args.steps)
    peak = (peak + matmul_peak(args.matmul_size)) / 2  # before and after, against drift
    params = sum(p.numel() for p in peers[0].model.parameters())
    flags = " ".join(arg for arg in sys.argv[1:] if not arg.startswith("--doc") and "benchmarks.md" not in arg)
    section = f"""## Throughput: GrowCLIPModel, transformers' CLIPModel and open_clip

Measured {datetime.date.today().isoformat()} on {machine()}, commit {git_commit()}; {args.threads} threads, CPU fp32;
{library_versions("torch", "transformers", "open_clip")}.
Command: `.venv-bench/bin/python benchmarks/throughput.py {flags}`

Architecture: both towers {args.layers} layers, width {args.width}, {args.heads} heads, MLP {4 * args.width};
{IMAGE_SIZE} px images, patch {PATCH}; {TEXT_TOKENS} text tokens; {params:,} parameters. Batch {args.batch_size}.
A training step is forward, symmetric contrastive loss, backward and AdamW; inference embeds the batch's images
and captions. Times are medians over {args.rounds} interleaved rounds of {args.steps} steps per model; the last
column is the median [min-max] of GrowCLIPModel's speed over the other model's within each round. MFU counts
matrix-product FLOPs against a plain fp32 {args.matmul_size}^3 matmul in the same process: {peak / 1e9:.0f} GFLOP/s.

{table(peers, config, args.batch_size, peak)}
"""
    if skipped:
        section += f"\nopen_clip skipped: {skipped}\n"
    if args.profile:
        section += f"\nWhere a training step's time goes (torch.profiler, one step):\n\n{profile_table(peers, batch)}\n"
    print(section)
    if args.doc:
        write_section(args.doc, "throughput", section)


if __name__ == "__main__":
    main()
