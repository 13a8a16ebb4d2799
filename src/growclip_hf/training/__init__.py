"""Training: the step engine (one Accelerator), the optimizer and its transfer across growth, checkpoints."""

from .config import TrainingConfig
from .optimization import build_optimizer, parameter_groups, warmup_cosine, warmup_stable_decay
from .optimizer_transfer import is_no_decay_parameter, transfer_optimizer
from .proxy import ProxyTrainer
from .trainer import StreamTrainer

__all__ = [
    "ProxyTrainer",
    "StreamTrainer",
    "TrainingConfig",
    "build_optimizer",
    "is_no_decay_parameter",
    "parameter_groups",
    "transfer_optimizer",
    "warmup_cosine",
    "warmup_stable_decay",
]
