"""Settings of ``growclip-hf run`` per data scale: the starting model, the training, the growth loop and the
strategy against forgetting.

``default`` is the main job (``make run``): a FLOP budget per chunk of the embedded stream that grows chunk by
chunk (web data grows year by year; every recipe gets the same compute per chunk), ER with a 5,000-pair reservoir of
the earlier chunks, and compute-optimal growth: it starts at width 32 and widens the whole model 2x,
function-preservingly, once a chunk's budget trains the wider model on 0.1 pairs per parameter (before stage 4). Why
each part (docs/results.md): without replay every chunk wipes out the last (the chunks teach disjoint classes); at
these budgets width 32 is ahead of widths 64 and 128 (``benchmarks/main_stream_map.py``); and a function-preserving
growth keeps what the model knows of the real images of the first chunks, which PIM perturbs. ``--strategy`` still
picks any other strategy (the reservoir size only applies to ER).
"""

from __future__ import annotations

import copy

_SMALL_TOWER = {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4}
_DEFAULT_TOWER = {"hidden_size": 32, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4}
# Keep or the whole model 2x wider (both towers, heads of the same width, MLPs and projection): the step that
# benchmarks/main_stream_map.py measures; the per-tower steps are off.
_WHOLE_MODEL_WIDTH = {
    "model_width_factor": 2.0,
    **{"depth_step": 0, "width_factor": 1.0, "heads_step": 0, "mlp_factor": 1.0, "shared_depth_step": 0},
}

PRESETS = {
    "small": {
        "model": {
            "text_config": {**_SMALL_TOWER, "max_position_embeddings": 32},
            "vision_config": {**_SMALL_TOWER, "image_size": 64, "patch_size": 16},
            "shared_config": {**_SMALL_TOWER, "num_hidden_layers": 0},
            "projection_dim": 64,
        },
        "tokenizer": {"vocab_size": 1024, "context_length": 32},
        "training": {
            "batch_size": 32,
            "epochs_per_stage": 3.0,
            "learning_rate": 1e-3,
            "warmup_steps": 3,
            "checkpoint_every": 10,
            "log_every": 5,
            "ramp_steps": 5,
        },
        "growth": {
            "policy": "auto",
            "method": "halving",
            "max_search_fraction": 0.15,
            "min_proxy_steps": 1,
            # A stage here trains 9-12 steps of 32 pairs, and 15 % of that buys no proxy step of 32 pairs for keep and
            # one candidate; at 4 pairs a step the bound scores keep and 3-4 growth candidates (at least 2 down to
            # stages of 6 steps; docs/training.md).
            "proxy_batch_size": 4,
            "budget_exponent": 1.0,
        },
        "data": {"shuffle_buffer": 256, "num_workers": 0},
    },
    "default": {
        "model": {
            "text_config": {**_DEFAULT_TOWER, "max_position_embeddings": 32},
            "vision_config": {**_DEFAULT_TOWER, "image_size": 64, "patch_size": 8},
            "shared_config": {**_DEFAULT_TOWER, "num_hidden_layers": 0},
            "projection_dim": 32,
        },
        "tokenizer": {"vocab_size": 4096, "context_length": 32},
        "training": {
            "batch_size": 128,
            # Equal compute per chunk, growing chunk by chunk (the last repeats): steps = budget / FLOPs per step of
            # the model of that stage. epochs_per_stage applies only if the budget is removed (null).
            "flops_per_stage": [2.5e11, 5e11, 1e12, 2e12, 3e12, 3e12],
            "epochs_per_stage": 2.0,
            "learning_rate": 1e-3,
            "warmup_steps": 10,
            "checkpoint_every": 100,
            "log_every": 10,
            "ramp_steps": 30,
        },
        # No search: grow when the chunk's budget trains the wider model on >= 0.1 pairs per parameter (3 TFLOP buys
        # width 64 0.11, 2 TFLOP 0.08), so a boundary that keeps costs nothing. budget_exponent 2 lets the parameter
        # budget admit the 2.75x parameters of a 2x width.
        "growth": {
            "policy": "compute",
            "pairs_per_parameter": 0.1,
            # Function-preserving: the grown model starts from what the small one knows. PIM 0.9, ahead on the
            # growing-concepts stream, ended level here but 1.9 points lower on MNIST (3 seeds, docs/results.md).
            "init": "preserve",
            "budget_exponent": 2.0,
            "space": _WHOLE_MODEL_WIDTH,
        },
        "continual": {"strategy": "er"},
        # No loader worker: 64 px images decode fast, and torch keeps both cores of a 2-core machine (one worker left
        # it one thread: 241 pairs/s against 385 without, and `make run` took 12.9 minutes instead of about 7).
        "data": {"shuffle_buffer": 1000, "num_workers": 0, "reservoir_size": 5000},
    },
}


def preset(scale: str) -> dict:
    if scale not in PRESETS:
        raise ValueError(f"Unknown scale {scale!r}; choose one of {sorted(PRESETS)}.")
    return copy.deepcopy(PRESETS[scale])
