"""growclip-hf: CLIP models that grow while they learn from a stream of image-text data.

Importing the package registers GrowCLIP with transformers' Auto classes, so ``AutoModel.from_pretrained`` and the
zero-shot image classification pipeline work on saved GrowCLIP folders without ``trust_remote_code``.
"""

from .models.growclip import (
    GrowCLIPConfig,
    GrowCLIPModel,
    GrowCLIPOutput,
    GrowCLIPPreTrainedModel,
    GrowCLIPSharedConfig,
    GrowCLIPTextConfig,
    GrowCLIPVisionConfig,
)
from .models.growclip.processing_growclip import GrowCLIPProcessor
from .models.processing import build_image_processor, build_processor
from .models.registration import register_auto_classes
from .models.tokenization import train_tokenizer

__version__ = "0.1.0"

register_auto_classes()

__all__ = [
    "GrowCLIPConfig",
    "GrowCLIPModel",
    "GrowCLIPOutput",
    "GrowCLIPPreTrainedModel",
    "GrowCLIPProcessor",
    "GrowCLIPSharedConfig",
    "GrowCLIPTextConfig",
    "GrowCLIPVisionConfig",
    "build_image_processor",
    "build_processor",
    "register_auto_classes",
    "train_tokenizer",
]
