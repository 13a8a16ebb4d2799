"""GrowCLIP without shared layers must compute exactly what transformers' CLIPModel computes."""

import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from growclip_hf import GrowCLIPModel

from .helpers import BOS, EOS, PAD, VOCAB, perturb_, pixel_batch, text_batch, tiny_config


def tiny_clip(seed: int = 0, eos_token_id: int = EOS, hidden_act: str = "quick_gelu") -> CLIPModel:
    tower = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "hidden_act": hidden_act,
    }
    config = CLIPConfig(
        text_config={
            **tower,
            "vocab_size": VOCAB,
            "max_position_embeddings": 16,
            "eos_token_id": eos_token_id,
            "bos_token_id": BOS,
            "pad_token_id": PAD,
        },
        vision_config={**tower, "image_size": 32, "patch_size": 8, "num_hidden_layers": 3},
        projection_dim=20,
    )
    torch.manual_seed(seed)
    return perturb_(CLIPModel(config), seed=seed).eval()


@pytest.mark.parametrize("hidden_act", ["quick_gelu", "gelu"])
def test_from_clip_matches_clip_logits(hidden_act):
    clip = tiny_clip(hidden_act=hidden_act)
    grown = GrowCLIPModel.from_clip(clip).eval()
    texts, pixels = text_batch(batch=4, seq_len=12), pixel_batch(batch=3)
    with torch.no_grad():
        expected = clip(**texts, pixel_values=pixels)
        actual = grown(**texts, pixel_values=pixels)
    assert (actual.logits_per_image - expected.logits_per_image).abs().max().item() <= 1e-5
    torch.testing.assert_close(actual.text_embeds, expected.text_embeds, atol=1e-6, rtol=0)
    torch.testing.assert_close(actual.image_embeds, expected.image_embeds, atol=1e-6, rtol=0)


def test_to_clip_reproduces_the_original_state_dict_exactly():
    clip = tiny_clip(seed=3)
    back = GrowCLIPModel.from_clip(clip).to_clip()
    original, converted = clip.state_dict(), back.state_dict()
    assert original.keys() == converted.keys()
    for key, value in original.items():
        assert torch.equal(value, converted[key]), key


def test_growclip_to_clip_and_back_is_lossless(model):
    clip = model.to_clip().eval()
    texts, pixels = text_batch(), pixel_batch()
    with torch.no_grad():
        ours = model(**texts, pixel_values=pixels).logits_per_image
        theirs = clip(**texts, pixel_values=pixels).logits_per_image
    assert (ours - theirs).abs().max().item() <= 1e-5
    again = GrowCLIPModel.from_clip(clip)
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_legacy_openai_eos_id_pools_at_the_highest_token():
    clip = tiny_clip(eos_token_id=2)  # old OpenAI configs: eos_token_id=2 means "argmax of the ids"
    grown = GrowCLIPModel.from_clip(clip).eval()
    assert grown.config.text_config.eos_token_id == VOCAB - 1
    assert grown.config.text_config.pooling == "highest_id"
    ids = torch.tensor(
        [
            [5, 17, 40, VOCAB - 1, VOCAB - 1, VOCAB - 1],  # end token, padded with it
            [5, 17, 90, 40, 12, 7],  # no end token: CLIP pools at the highest id (90), not at the last token
            [3, 3, 3, 3, 3, 3],  # all equal: the first position
        ]
    )
    with torch.no_grad():
        expected = clip.get_text_features(input_ids=ids).pooler_output
        actual = grown.encode_text(ids)
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=0)
    assert grown.text_model.pooling_positions(ids, None).tolist() == [3, 2, 0]


def test_to_clip_refuses_shared_layers_with_a_clear_error(shared_model):
    with pytest.raises(ValueError, match="shared cross-modal layers"):
        shared_model.to_clip()


def test_to_clip_refuses_decoupled_head_width():
    config = tiny_config(text_config={"hidden_size": 32, "num_attention_heads": 3, "head_dim": 8, "vocab_size": 99})
    with pytest.raises(ValueError, match="head_dim"):
        GrowCLIPModel(config).to_clip()
