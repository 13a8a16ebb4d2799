"""Training and inference throughput: GrowCLIPModel vs transformers' CLIPModel (same weights, via to_clip) vs
open_clip (same architecture, when it imports), plus a plain fp32 matmul for model FLOP utilisation. One run, same
threads, batch and architecture.

Run: .venv/bin/python benchmarks/throughput.py [--batch-size 64] [--steps 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from growclip_hf import GrowCLIPConfig, GrowCLIPModel  # noqa: E402
from growclip_hf.growth.flops import training_flops_per_pair  # noqa: E402

TOWER = {"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4, "num_attention_heads": 4}


def _config() -> GrowCLIPConfig:
    return GrowCLIPConfig(
        text_config={**TOWER, "vocab_size": 4096, "max_position_embeddings": 32, "hidden_act": "gelu"},
        vision_config={**TOWER, "image_size": 64, "patch_size": 8, "hidden_act": "gelu"},
        projection_dim=256,
    )


def _batch(config, size: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, config.text_config.vocab_size, (size, 32), generator=generator)
    ids[:, -1] = config.text_config.eos_token_id
    return {"input_ids": ids, "pixel_values": torch.randn(size, 3, 64, 64, generator=generator)}


def _median_seconds(step, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _train_step_fn(model, batch, loss_fn):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model, batch).backward()
        optimizer.step()

    return step


def _hf_loss(model, batch):
    return model(**batch, return_loss=True).loss


def _open_clip_model(config):
    """open_clip's CLIP with the same tower shapes, or the reason it cannot run here."""
    try:
        import open_clip  # noqa: F401
        from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg
    except Exception as error:  # torchvision from PyPI does not import beside the CPU torch build
        return None, f"{type(error).__name__}: {error}".splitlines()[0][:160]
    vision = CLIPVisionCfg(
        layers=TOWER["num_hidden_layers"],
        width=TOWER["hidden_size"],
        patch_size=8,
        image_size=64,
        head_width=TOWER["hidden_size"] // TOWER["num_attention_heads"],
        mlp_ratio=4.0,
    )
    text = CLIPTextCfg(
        context_length=32,
        vocab_size=4096,
        width=TOWER["hidden_size"],
        heads=TOWER["num_attention_heads"],
        layers=TOWER["num_hidden_layers"],
    )
    return CLIP(embed_dim=config.projection_dim, vision_cfg=vision, text_cfg=text), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = _config()
    batch = _batch(config, args.batch_size)
    ours = GrowCLIPModel(config).train()
    theirs = ours.to_clip().train()
    size = 1024
    a, b = torch.randn(size, size), torch.randn(size, size)
    matmul = _median_seconds(lambda: a @ b, repeats=20)
    peak = 2 * size**3 / matmul
    rows = []
    models = [("GrowCLIPModel", ours, _hf_loss), ("transformers CLIPModel", theirs, _hf_loss)]
    open_clip_model, reason = _open_clip_model(config)
    if open_clip_model is not None:
        from open_clip.loss import ClipLoss

        loss = ClipLoss()

        def open_clip_loss(model, data):
            image, text, scale = model(data["pixel_values"], data["input_ids"])
            return loss(image, text, scale)

        models.append(("open_clip CLIP", open_clip_model.train(), open_clip_loss))
    for name, model, loss_fn in models:
        train = _median_seconds(_train_step_fn(model, batch, loss_fn), args.steps)
        model.eval()
        with torch.inference_mode():
            infer = _median_seconds(lambda m=model, f=loss_fn: f(m, batch), args.steps)
        model.train()
        rows.append((name, train, infer))
    train_flops = training_flops_per_pair(config, 32) * args.batch_size
    print(
        f"throughput: batch {args.batch_size}, {args.threads} threads, CPU fp32, median of {args.steps} steps;"
        f" fp32 matmul peak here {peak / 1e9:.0f} GFLOP/s\n"
    )
    print("| model | train steps/s | train pairs/s | MFU | inference pairs/s | train vs GrowCLIP |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, train, infer in rows:
        print(
            f"| {name} | {1 / train:.2f} | {args.batch_size / train:.0f} | {train_flops / train / peak:.0%} "
            f"| {args.batch_size / infer:.0f} | {rows[0][1] / train:.2f}x |"
        )
    if reason:
        print(f"\nopen_clip skipped: {reason}")


if __name__ == "__main__":
    main()
