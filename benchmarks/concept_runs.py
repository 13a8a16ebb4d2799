"""Training and scoring on the growing-concepts stream, shared by ``precondition_map.py`` and ``growth_sweep.py``.

Every arm of those benchmarks trains the same way: a chunk's FLOP budget buys its steps (``growth.flops``), each
chunk runs one warmup-stable-decay cycle (so every chunk ends decayed, where it is scored), the hidden matrices train
at a rate per width (µP-style, ``training.lr_width_rule="mup"``), and the pairs of a chunk are drawn by a generator
seeded by (seed, chunk), so every arm of a seed sees the same pairs in the same order.
"""

from __future__ import annotations

import statistics
import tempfile

import numpy as np
import torch

from growclip_hf import GrowCLIPConfig
from growclip_hf.data.benchmark.growing_concepts import ZEROSHOT_TEMPLATE, GrowingConceptStream
from growclip_hf.data.transforms import ClipImageTransform
from growclip_hf.evaluation.retrieval import retrieval_metrics
from growclip_hf.growth.search import heldout_loss
from growclip_hf.models.tokenization import train_tokenizer
from growclip_hf.training import StreamTrainer, TrainingConfig

CONTEXT = 16
HELDOUT_PAIRS = 512  # the held-out pairs of a chunk: its held-out loss, and what the growth search scores on
PIXELS = ClipImageTransform(0, 0, 0, (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
WARMUP_SHARE = 0.05  # of a chunk's steps
DECAY_FRACTION = 0.2


def add_recipe_arguments(parser) -> None:
    """The stream and training recipe every script on this stream shares (so their runs stay comparable)."""
    parser.add_argument("--concepts-per-chunk", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3, help="peak rate at --base-width (µP-style rule per width)")
    parser.add_argument("--base-width", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="2 threads on 2 shared cores thrashed: 0.86 s a step")


def stream_and_tokenizer(args, chunks: int) -> tuple[GrowingConceptStream, object]:
    """The stream of ``chunks`` chunks and a tokenizer trained on every caption it can produce (on ``args.threads``)."""
    torch.set_num_threads(args.threads)
    stream = GrowingConceptStream(args.concepts_per_chunk, chunks, args.image_size)
    return stream, train_tokenizer(stream.all_captions(), vocab_size=1024, context_length=CONTEXT)


def model_config(width: int, layers: int, image_size: int, patch_size: int, tokenizer) -> GrowCLIPConfig:
    """Both towers ``width`` wide with heads of 16 and an MLP of 4x, no shared layers, projection ``width``."""
    tower = {
        "hidden_size": width,
        "intermediate_size": 4 * width,
        "num_hidden_layers": layers,
        "num_attention_heads": max(1, width // 16),
    }
    return GrowCLIPConfig(
        text_config={
            **tower,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": CONTEXT,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={**tower, "image_size": image_size, "patch_size": patch_size},
        shared_config={**tower, "num_hidden_layers": 0},
        projection_dim=width,
    )


def widened(config, width: int) -> dict:
    """The growth target that makes ``config`` look like ``model_config(width, ...)``: wider, more heads, wider MLP."""
    tower = {"hidden_size": width, "intermediate_size": 4 * width, "num_attention_heads": max(1, width // 16)}
    return {"vision_config": dict(tower), "text_config": dict(tower), "projection_dim": width}


def deepened(config) -> dict:
    """One more layer in each tower."""
    return {
        "vision_config": {"num_hidden_layers": config.vision_config.num_hidden_layers + 1},
        "text_config": {"num_hidden_layers": config.text_config.num_hidden_layers + 1},
    }


def tokens(texts: list[str], tokenizer) -> dict:
    out = tokenizer(texts, padding="max_length", max_length=CONTEXT, truncation=True, return_tensors="pt")
    return {"input_ids": out["input_ids"], "attention_mask": out["attention_mask"]}


def batch(images: np.ndarray, captions: list[str] | None, tokenizer) -> dict:
    out = {"pixel_values": PIXELS.normalize_batch(torch.from_numpy(images).permute(0, 3, 1, 2))}
    if captions is not None:
        out.update(tokens(captions, tokenizer))
    return out


def new_trainer(model, lr: float, base_width: int, batch_size: int, seed: int) -> StreamTrainer:
    settings = TrainingConfig(
        output_dir=tempfile.mkdtemp(prefix="concept-run-"),
        batch_size=batch_size,
        learning_rate=lr,
        lr_schedule="wsd",
        decay_fraction=DECAY_FRACTION,
        lr_width_rule="mup",
        lr_base_width=base_width,
        min_lr_ratio=0.0,
        tracker=None,
        seed=seed,
    )
    return StreamTrainer(settings, model)


def train_chunk(
    trainer: StreamTrainer, stream, chunk: int, steps: int, rng, tokenizer, after_step=None, warmup: int | None = None
) -> list[float]:
    """``steps`` steps of one warmup-stable-decay cycle on fresh pairs of ``chunk``; the losses. ``after_step(step)``
    runs after each step (e.g. a learning-curve reading; it must not draw from ``rng``); ``warmup`` overrides the
    recipe's warmup steps (``warmup_steps``)."""
    trainer.config.warmup_steps = warmup_steps(steps) if warmup is None else warmup
    losses = []
    for step in range(steps):
        images, captions = stream.sample(chunk, trainer.config.batch_size, rng)
        losses.append(trainer.step([batch(images, captions, tokenizer)], trainer.learning_rate(step, steps)))
        if after_step is not None:
            after_step(step)
    return losses


def warmup_steps(steps: int) -> int:
    return max(1, round(steps * WARMUP_SHARE))


def _features(output):
    return output if isinstance(output, torch.Tensor) else output.pooler_output


@torch.no_grad()
def scores(model, stream, chunk: int, heldout, heldout_pairs: dict, tokenizer) -> dict:
    """After ``chunk``: zero-shot top-1 over every concept seen (held-out renders), retrieval Rm between one render
    and one caption per seen concept, and the held-out contrastive loss of the chunk's own held-out pairs."""
    model.eval()
    names = [ZEROSHOT_TEMPLATE.format(c.name) for c in stream.seen(chunk)]
    text = torch.cat(
        [_features(model.get_text_features(**tokens(names[i : i + 512], tokenizer))) for i in range(0, len(names), 512)]
    )
    images, labels = heldout
    image = torch.cat(
        [
            _features(model.get_image_features(batch(images[i : i + 512], None, tokenizer)["pixel_values"]))
            for i in range(0, len(images), 512)
        ]
    )
    text, image = (torch.nn.functional.normalize(x, dim=-1) for x in (text, image))
    predicted = (image @ text.T).argmax(dim=1).numpy()
    first = np.unique(labels, return_index=True)[1]  # one render per concept, in label order
    retrieval = retrieval_metrics(image[first], text, torch.arange(len(names)))
    result = {
        "zero_shot": float((predicted == labels).mean() * 100),
        "retrieval_Rm": retrieval["Rm"],
        "heldout_loss": heldout_loss(model, heldout_pairs),
    }
    model.train()
    return result


def heldout_pairs(stream, chunk: int, pairs: int, tokenizer, seed: int = 777) -> dict:
    """Pairs of ``chunk`` (new and earlier concepts as in training) that no arm trains on."""
    images, captions = stream.sample(chunk, pairs, np.random.default_rng([seed, chunk]))
    return batch(images, captions, tokenizer)


def mean_of_last(values: list[float], count: int = 10) -> float:
    return statistics.fmean(values[-count:]) if values else float("nan")
