"""Hook GrowCLIP into transformers' Auto classes, and mark it so save_pretrained ships its code (remote code)."""

from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForZeroShotImageClassification,
    AutoProcessor,
)

from .growclip import GrowCLIPConfig, GrowCLIPModel
from .growclip.processing_growclip import GrowCLIPProcessor

_registered = False


def register_auto_classes() -> None:
    """Idempotent: safe to call again (transformers refuses duplicate registrations)."""
    global _registered
    if _registered:
        return
    AutoConfig.register(GrowCLIPConfig.model_type, GrowCLIPConfig, exist_ok=True)
    AutoModel.register(GrowCLIPConfig, GrowCLIPModel, exist_ok=True)
    AutoModelForZeroShotImageClassification.register(GrowCLIPConfig, GrowCLIPModel, exist_ok=True)
    AutoProcessor.register(GrowCLIPConfig, GrowCLIPProcessor, exist_ok=True)
    # With these, save_pretrained copies the model code next to the weights and writes `auto_map`, so a user
    # without this package can load (and grow) a published model with trust_remote_code=True.
    GrowCLIPConfig.register_for_auto_class("AutoConfig")
    GrowCLIPModel.register_for_auto_class("AutoModel")
    GrowCLIPProcessor.register_for_auto_class("AutoProcessor")
    _registered = True
