"""Training FLOPs of a GrowCLIP architecture, to budget the growth search and compare compute between runs.

Counts matrix multiplications only (2 FLOPs per multiply-add), forward x 3 for forward + backward, which is the usual
accounting (Kaplan et al.); norms, softmax and activations are ignored.
"""

from __future__ import annotations


def _head_dim(sub) -> int:
    return sub.head_dim if sub.head_dim is not None else sub.hidden_size // sub.num_attention_heads


def _layer_forward_flops(sub, tokens: int) -> float:
    inner = sub.num_attention_heads * _head_dim(sub)
    projections = 2 * tokens * sub.hidden_size * inner * 4  # q, k, v, out
    attention = 2 * 2 * tokens * tokens * inner  # scores and weighted sum
    mlp = 2 * 2 * tokens * sub.hidden_size * sub.intermediate_size
    return projections + attention + mlp


def forward_flops_per_pair(config, text_tokens: int) -> float:
    """Forward FLOPs for one image and one caption of ``text_tokens`` tokens."""
    vision, text, shared = config.vision_config, config.text_config, config.shared_config
    patches = (vision.image_size // vision.patch_size) ** 2
    vision_tokens = patches + 1
    flops = 2 * patches * vision.num_channels * vision.patch_size**2 * vision.hidden_size
    flops += vision.num_hidden_layers * _layer_forward_flops(vision, vision_tokens)
    flops += text.num_hidden_layers * _layer_forward_flops(text, text_tokens)
    output_widths = (vision.hidden_size, text.hidden_size)
    if shared.num_hidden_layers > 0:
        flops += 2 * (vision_tokens * vision.hidden_size + text_tokens * text.hidden_size) * shared.hidden_size
        flops += shared.num_hidden_layers * (
            _layer_forward_flops(shared, vision_tokens) + _layer_forward_flops(shared, text_tokens)
        )
        output_widths = (shared.hidden_size, shared.hidden_size)
    flops += 2 * sum(output_widths) * config.projection_dim
    return float(flops)


def training_flops_per_pair(config, text_tokens: int = 32) -> float:
    """Forward + backward FLOPs per training pair (3x forward)."""
    return 3.0 * forward_flops_per_pair(config, text_tokens)


def parameter_count(config) -> int:
    """Parameters of the architecture, without building it."""
    import torch

    from ..models.growclip import GrowCLIPModel

    with torch.device("meta"):
        model = GrowCLIPModel(config)
    return sum(p.numel() for p in model.parameters())


def steps_within_budget(budget_flops: float, pairs_per_step: int, config, spent: float = 0.0, text_tokens=32) -> int:
    """Optimizer steps that the rest of a per-chunk FLOP budget buys for ``config`` (at least 1).

    Equal compute per chunk: every arm gets ``(budget - spent) / FLOPs per step`` steps, whatever its width, with
    ``spent`` what the chunk already used (the growth search's proxies), as TiC-CLIP fixes compute per time step.
    """
    per_step = pairs_per_step * training_flops_per_pair(config, text_tokens)
    return max(1, int((budget_flops - spent) // per_step))
