"""Training: the global-batch contrastive loss, feature-cached accumulation, the step engine and checkpoints."""

from .accumulation import contrastive_backward
from .config import TrainingConfig
from .losses import gather_with_grad, global_contrastive_loss
from .optimization import build_optimizer, parameter_groups, warmup_cosine
from .trainer import StreamTrainer

__all__ = [
    "StreamTrainer",
    "TrainingConfig",
    "build_optimizer",
    "contrastive_backward",
    "gather_with_grad",
    "global_contrastive_loss",
    "parameter_groups",
    "warmup_cosine",
]
