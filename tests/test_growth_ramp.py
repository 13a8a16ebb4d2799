"""The width-growth ramp: part of the config, saved mid-ramp, finished explicitly."""

import pytest
import torch

from growclip_hf import GrowCLIPModel

from .helpers import pixel_batch, text_batch


def _logits(model):
    with torch.no_grad():
        return model(**text_batch(), pixel_values=pixel_batch()).logits_per_image


def test_width_growth_starts_a_ramp_at_zero(model):
    grown = model.grow({"vision_config": {"hidden_size": 40}}, init="preserve")
    assert grown.growth_ramp_progress == 0.0
    widths = grown.config.growth_ramp["active_widths"]
    assert widths["vision_model.pre_layrnorm"] == 32
    assert widths["vision_model.post_layernorm"] == 32
    assert widths["vision_model.encoder.layers.1.layer_norm2"] == 32
    assert not any(name.startswith("text_model") for name in widths)


def test_depth_only_growth_needs_no_ramp(model):
    assert model.grow({"text_config": {"num_hidden_layers": 4}}).config.growth_ramp is None


def test_ramp_changes_the_function_gradually_and_finishes_as_plain_layernorm(model):
    grown = model.grow({"text_config": {"hidden_size": 48}}, init="preserve").eval()
    start = _logits(grown)
    grown.set_growth_ramp_progress(1e-6)
    assert (_logits(grown) - start).abs().max() < 1e-3
    grown.set_growth_ramp_progress(1.0)
    full = _logits(grown)
    grown.finish_growth_ramp()
    assert grown.config.growth_ramp is None and grown.growth_ramp_progress is None
    torch.testing.assert_close(_logits(grown), full, atol=1e-4, rtol=0)
    grown.finish_growth_ramp()  # idempotent


def test_save_and_load_in_the_middle_of_a_ramp(tmp_path, model):
    grown = model.grow(
        {"text_config": {"hidden_size": 48}, "shared_config": {"num_hidden_layers": 1, "hidden_size": 48}}
    )
    grown.set_growth_ramp_progress(0.37)
    grown.eval()
    grown.save_pretrained(tmp_path)
    reloaded = GrowCLIPModel.from_pretrained(tmp_path).eval()
    assert reloaded.growth_ramp_progress == pytest.approx(0.37)
    assert reloaded.config.growth_ramp == grown.config.growth_ramp
    torch.testing.assert_close(_logits(reloaded), _logits(grown), atol=0, rtol=0)
    for name, tensor in grown.state_dict().items():
        assert torch.equal(tensor, reloaded.state_dict()[name]), name


def test_ramp_progress_is_validated(model):
    with pytest.raises(ValueError, match="No growth ramp is running"):
        model.set_growth_ramp_progress(0.5)
    grown = model.grow({"text_config": {"hidden_size": 48}})
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        grown.set_growth_ramp_progress(1.5)
