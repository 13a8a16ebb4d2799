"""Growth beyond the model files: optimizer-state transfer (and, later, the growth space and search)."""

from .optimizer_transfer import is_no_decay_parameter, transfer_optimizer

__all__ = ["is_no_decay_parameter", "transfer_optimizer"]
