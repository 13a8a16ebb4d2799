"""Settings of ``growclip-hf run`` per data scale: the starting model, the training, the growth loop and the
strategy against forgetting.

``default`` trains 2 passes of 128 pairs a step over each chunk of the embedded stream plus a 5,000-pair replay
reservoir of the earlier chunks (ER). The stream's chunks teach disjoint classes (clothes, digits, drawings of
animals, food, ...), and without replay every chunk wipes out the last: measured with
``benchmarks/semantic_probe.py`` at equal compute (150 steps of 128 pairs per chunk), the final object zero-shot mean
was at chance with plain fine-tuning (10.6 %, chance 10.6 %) and 34.6 % with the reservoir. ``--strategy`` still
picks any other strategy (the reservoir size below only applies to ER).
"""

from __future__ import annotations

import copy

_SMALL_TOWER = {"hidden_size": 64, "intermediate_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4}
_DEFAULT_TOWER = {"hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 4}

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
            "projection_dim": 128,
        },
        "tokenizer": {"vocab_size": 4096, "context_length": 32},
        "training": {
            "batch_size": 128,
            "epochs_per_stage": 2.0,
            "learning_rate": 1e-3,
            "warmup_steps": 10,
            "checkpoint_every": 100,
            "log_every": 10,
            "ramp_steps": 30,
        },
        # The search runs only once the loss flattens: in the growth sweep, searching at every chunk cost twice the
        # compute for no gain in quality at this scale. When it runs, it is successive halving with a paired test
        # against keep: the same quality as one round at 0.53-0.60x the compute over 3 seeds (docs/benchmarks.md).
        "growth": {
            "policy": "auto",
            "trigger": "plateau",
            "method": "halving",
            "max_search_fraction": 0.15,
            "min_proxy_steps": 2,
            "budget_exponent": 0.75,
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
