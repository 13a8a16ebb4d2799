from .configuration_growclip import GrowCLIPConfig, GrowCLIPSharedConfig, GrowCLIPTextConfig, GrowCLIPVisionConfig
from .modeling_growclip import GrowCLIPModel, GrowCLIPOutput, GrowCLIPPreTrainedModel

__all__ = [
    "GrowCLIPConfig",
    "GrowCLIPModel",
    "GrowCLIPOutput",
    "GrowCLIPPreTrainedModel",
    "GrowCLIPSharedConfig",
    "GrowCLIPTextConfig",
    "GrowCLIPVisionConfig",
]
