"""Test setup: offline Hub, no telemetry, deterministic CPU threads. Set before transformers is imported."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import torch  # noqa: E402

import growclip_hf  # noqa: E402,F401  (registers the Auto classes)
from growclip_hf import GrowCLIPModel  # noqa: E402

from .helpers import perturb_, tiny_config  # noqa: E402


@pytest.fixture
def model() -> GrowCLIPModel:
    torch.manual_seed(0)
    return perturb_(GrowCLIPModel(tiny_config())).eval()


@pytest.fixture
def shared_model() -> GrowCLIPModel:
    torch.manual_seed(0)
    return perturb_(GrowCLIPModel(tiny_config(shared_layers=2))).eval()
