"""Saving writes safetensors + code + auto_map; loading works through Auto classes and as remote code."""

import json
import textwrap

import torch
from transformers import AutoConfig, AutoModel, AutoModelForZeroShotImageClassification

from growclip_hf import GrowCLIPConfig, GrowCLIPModel

from .helpers import pixel_batch, run_without_package, text_batch

CODE_FILES = {
    "configuration_growclip.py",
    "modeling_growclip.py",
    "modeling_growclip_layers.py",
    "validation_growclip.py",
    "conversion_growclip.py",
}


def _logits(model):
    with torch.no_grad():
        return model(**text_batch(), pixel_values=pixel_batch()).logits_per_image


def test_round_trip_is_exact_and_uses_safetensors_only(tmp_path, shared_model):
    shared_model.save_pretrained(tmp_path)
    files = {path.name for path in tmp_path.iterdir()}
    assert "model.safetensors" in files
    assert not any(name.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt")) for name in files)
    assert files >= CODE_FILES
    reloaded = GrowCLIPModel.from_pretrained(tmp_path).eval()
    for name, tensor in shared_model.state_dict().items():
        loaded = reloaded.state_dict()[name]
        assert torch.isfinite(loaded).all(), name
        assert torch.equal(tensor, loaded), name
    torch.testing.assert_close(_logits(reloaded), _logits(shared_model), atol=0, rtol=0)


def test_auto_map_names_config_model_and_zero_shot_class(tmp_path, model):
    model.save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert auto_map == {
        "AutoConfig": "configuration_growclip.GrowCLIPConfig",
        "AutoModel": "modeling_growclip.GrowCLIPModel",
        "AutoModelForZeroShotImageClassification": "modeling_growclip.GrowCLIPModel",
    }


def test_auto_classes_resolve_with_the_package_imported(tmp_path, model):
    model.save_pretrained(tmp_path)
    assert isinstance(AutoConfig.from_pretrained(tmp_path), GrowCLIPConfig)
    assert type(AutoModel.from_pretrained(tmp_path)) is GrowCLIPModel
    zero_shot = AutoModelForZeroShotImageClassification.from_pretrained(tmp_path).eval()
    assert type(zero_shot) is GrowCLIPModel
    torch.testing.assert_close(_logits(zero_shot), _logits(model), atol=0, rtol=0)


REMOTE_CODE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["growclip_hf"] = None  # make the package unimportable in this process
    try:
        import growclip_hf  # noqa: F401
        raise SystemExit("growclip_hf should not be importable here")
    except ImportError:
        pass
    import torch
    from transformers import AutoModel
    folder = sys.argv[1]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    inputs = torch.load(folder + "/inputs.pt")
    with torch.no_grad():
        logits = model(**inputs["texts"], pixel_values=inputs["pixels"]).logits_per_image
    print(float((logits - inputs["expected"]).abs().max()))
    """
)


def test_remote_code_load_in_a_process_without_the_package(tmp_path, shared_model):
    folder = tmp_path / "published"
    shared_model.save_pretrained(folder)
    texts, pixels = text_batch(), pixel_batch()
    torch.save({"texts": texts, "pixels": pixels, "expected": _logits(shared_model)}, folder / "inputs.pt")
    assert run_without_package(REMOTE_CODE_SCRIPT, str(folder), workdir=tmp_path) <= 1e-6
