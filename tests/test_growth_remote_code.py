"""A user without growclip_hf can load a published model with trust_remote_code and grow it; grown models round-trip."""

import textwrap

import torch

from growclip_hf import GrowCLIPModel

from .helpers import pixel_batch, run_without_package, text_batch

GROW_REMOTELY = textwrap.dedent(
    """
    import sys
    sys.modules["growclip_hf"] = None
    import torch
    from transformers import AutoModel
    folder, out = sys.argv[1], sys.argv[2]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
    inputs = torch.load(folder + "/inputs.pt")
    target = {"text_config": {"hidden_size": 48, "num_hidden_layers": 3}, "shared_config": {"num_hidden_layers": 1,
              "hidden_size": 48}, "projection_dim": 30}
    grown = model.grow(target, init="preserve", seed=0).eval()
    with torch.no_grad():
        before = model(**inputs["texts"], pixel_values=inputs["pixels"]).logits_per_image
        after = grown(**inputs["texts"], pixel_values=inputs["pixels"]).logits_per_image
    grown.save_pretrained(out)
    torch.save({"after": after}, out + "/remote_logits.pt")
    print(float((after - before).abs().max()))
    """
)


def test_grow_with_remote_code_and_round_trip(tmp_path, model):
    folder, out = tmp_path / "published", tmp_path / "grown"
    model.save_pretrained(folder)
    torch.save({"texts": text_batch(), "pixels": pixel_batch()}, folder / "inputs.pt")
    assert run_without_package(GROW_REMOTELY, str(folder), str(out), workdir=tmp_path) <= 1e-4

    # The remotely grown model loads here (with the package) and computes what it computed there.
    reloaded = GrowCLIPModel.from_pretrained(out).eval()
    assert reloaded.config.growth_history[-1]["changes"]
    assert reloaded.growth_ramp_progress == 0.0
    with torch.no_grad():
        logits = reloaded(**text_batch(), pixel_values=pixel_batch()).logits_per_image
    torch.testing.assert_close(logits, torch.load(out / "remote_logits.pt")["after"], atol=0, rtol=0)


def _without_dtype(value):
    """Loading records the dtype and source path in the config; everything else must survive unchanged."""
    if isinstance(value, dict):
        return {k: _without_dtype(v) for k, v in value.items() if k not in ("dtype", "_name_or_path")}
    return value


def test_grown_model_save_and_load_is_exact(tmp_path, model):
    grown = model.grow(
        {"vision_config": {"num_hidden_layers": 3, "num_attention_heads": 8, "hidden_size": 64}, "projection_dim": 32},
        init="pim",
        seed=1,
    ).eval()
    grown.save_pretrained(tmp_path)
    reloaded = GrowCLIPModel.from_pretrained(tmp_path).eval()
    assert _without_dtype(reloaded.config.to_dict()) == _without_dtype(grown.config.to_dict())
    for name, tensor in grown.state_dict().items():
        assert torch.equal(tensor, reloaded.state_dict()[name]), name
