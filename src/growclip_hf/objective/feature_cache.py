"""Gradient accumulation by feature caching (GradCache): big contrastive batches without shrinking the negatives.

Plain accumulation would score each micro-batch only against itself. Here one optimizer step (1) embeds every
micro-batch without gradients, (2) computes the loss over all cached embeddings (and all processes) and its gradient
with respect to those embeddings, then (3) re-embeds each micro-batch with gradients and back-propagates the cached
embedding gradients. The parameter gradients equal those of one forward over the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext

import torch

from .contrastive import global_contrastive_loss


def _embed(model, batch: dict):
    outputs = model(
        input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"), pixel_values=batch["pixel_values"]
    )
    return outputs.image_embeds, outputs.text_embeds, outputs.logit_scale


def contrastive_backward(
    model,
    micro_batches: Sequence[dict],
    no_sync: Callable[[], object] | None = None,
    extra_loss: Callable[[torch.Tensor, torch.Tensor, dict], torch.Tensor] | None = None,
    gather: bool = True,
) -> torch.Tensor:
    """Forward + backward for one optimizer step over ``micro_batches``; returns the (detached) loss.

    ``no_sync`` is a context factory (e.g. ``lambda: accelerator.no_sync(model)``) used for every re-embedding but the
    last, so DDP all-reduces gradients once. ``extra_loss(image_embeds, text_embeds, batch)`` adds strategy terms
    computed on the step's full (local) batch. ``gather=False``: negatives from this process only.
    """
    if len(micro_batches) == 1:
        image_embeds, text_embeds, scale = _embed(model, micro_batches[0])
        loss = global_contrastive_loss(image_embeds, text_embeds, scale, gather=gather)
        loss = _with_extra(loss, extra_loss, image_embeds, text_embeds, micro_batches[0])
        loss.backward()
        return loss.detach()

    with torch.no_grad():
        cached = [_embed(model, batch) for batch in micro_batches]
    images = torch.cat([c[0] for c in cached]).requires_grad_(True)
    texts = torch.cat([c[1] for c in cached]).requires_grad_(True)
    scale = cached[0][2].requires_grad_(True)  # computed under no_grad: already a leaf
    loss = global_contrastive_loss(images, texts, scale, gather=gather)
    loss = _with_extra(loss, extra_loss, images, texts, _concat(micro_batches))
    loss.backward()

    sizes = [c[0].shape[0] for c in cached]
    image_grads, text_grads = images.grad.split(sizes), texts.grad.split(sizes)
    scale_grad = scale.grad / len(micro_batches)
    for index, batch in enumerate(micro_batches):
        last = index == len(micro_batches) - 1
        context = nullcontext() if last or no_sync is None else no_sync()
        with context:
            image_embeds, text_embeds, micro_scale = _embed(model, batch)
            surrogate = (
                (image_embeds * image_grads[index]).sum()
                + (text_embeds * text_grads[index]).sum()
                + micro_scale * scale_grad
            )
            surrogate.backward()
    return loss.detach()


def _with_extra(loss, extra_loss, images, texts, batch):
    """Add a strategy's terms; a strategy may return None when it has nothing to add (e.g. on the first task)."""
    extra = extra_loss(images, texts, batch) if extra_loss is not None else None
    return loss if extra is None else loss + extra


def _concat(batches: Sequence[dict]) -> dict:
    keys = batches[0].keys()
    return {key: torch.cat([batch[key] for batch in batches]) for key in keys if torch.is_tensor(batches[0][key])}
