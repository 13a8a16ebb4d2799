"""A learning rate per width (µP-style): hidden matrices of a tower ``w`` wide train at ``lr * base_width / w``.

Why: with Adam every entry moves by about the learning rate whatever the width, so a matrix's effect on its output
grows with its fan-in; keeping the change of a layer's output the same across widths needs a rate proportional to
``1 / width`` for the matrices that read the hidden stream (Yang et al., Tensor Programs V, the Adam table). Embeddings,
norms, biases and the logit scale read no hidden width and keep the base rate. A grown tower's rate falls with its
width: the optimizer's groups carry which width they read, and ``refresh_width_scales`` re-reads it after growth.
"""

from __future__ import annotations

import torch

WIDTH_RULES = ("none", "mup")
_TOWER_PREFIXES = {
    "vision_model.encoder.": "vision_config",
    "text_model.encoder.": "text_config",
    "shared_encoder.encoder.": "shared_config",
    "shared_encoder.vision_input_projection.": "vision_config",
    "shared_encoder.text_input_projection.": "text_config",
    "visual_projection.": "vision_output",
    "text_projection.": "text_output",
}


def width_key(name: str, parameter: torch.nn.Parameter) -> str | None:
    """Which width a hidden matrix reads (a config key, or ``*_output`` for the projections); None for the rest."""
    if parameter.ndim != 2:
        return None
    return next((key for prefix, key in _TOWER_PREFIXES.items() if name.startswith(prefix)), None)


def width_of(key: str, config) -> int:
    """The width behind ``key`` in ``config``; a projection reads the shared encoder's output when it has layers."""
    if key.endswith("_output"):
        shared = config.shared_config
        key = "shared_config" if shared.num_hidden_layers > 0 else key.replace("_output", "_config")
    return int(getattr(config, key).hidden_size)


def width_scale(key: str | None, config, base_width: int) -> float:
    return 1.0 if key is None else base_width / width_of(key, config)


def refresh_width_scales(optimizer: torch.optim.Optimizer, config) -> None:
    """Set every group's ``lr_scale`` from the width it reads in ``config`` (after growth, or after a resume)."""
    optimizer = getattr(optimizer, "optimizer", optimizer)
    for group in optimizer.param_groups:
        if "width_key" in group:
            group["lr_scale"] = width_scale(group["width_key"], config, group["base_width"])
