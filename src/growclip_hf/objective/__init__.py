"""The contrastive objective every layer above trains with: the global-batch InfoNCE loss, gathering features with
their gradient across processes, and the feature-cached backward that keeps all negatives under accumulation."""

from .contrastive import gather_with_grad, global_contrastive_loss, rank_and_world_size
from .feature_cache import contrastive_backward

__all__ = ["contrastive_backward", "gather_with_grad", "global_contrastive_loss", "rank_and_world_size"]
