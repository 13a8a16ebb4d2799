"""Mistakes in inputs raise errors that say what is wrong and how to fix it."""

import pytest
import torch

from .helpers import pixel_batch, text_batch


def test_loss_needs_one_text_per_image(model):
    with pytest.raises(ValueError, match="one text per image, got 2 images and 3 texts"):
        model(**text_batch(batch=3), pixel_values=pixel_batch(batch=2), return_loss=True)


def test_rectangular_batches_are_fine_without_loss(model):
    out = model(**text_batch(batch=3), pixel_values=pixel_batch(batch=2))
    assert out.logits_per_image.shape == (2, 3)


def test_wrong_channel_count(model):
    grey = torch.randn(2, 1, 32, 32)
    with pytest.raises(ValueError, match="1 channels but the model expects 3"):
        model(**text_batch(batch=2), pixel_values=grey)


def test_image_size_not_matching_config(model):
    with pytest.raises(ValueError, match="Images are 48x48 but the model expects 32x32"):
        model.get_image_features(torch.randn(1, 3, 48, 48))


def test_pixel_values_without_batch_dimension(model):
    with pytest.raises(ValueError, match=r"\[batch, channels, height, width\]"):
        model.get_image_features(torch.randn(3, 32, 32))


def test_text_longer_than_position_table(model):
    too_long = torch.randint(3, 90, (1, 17))
    with pytest.raises(ValueError, match="17 tokens long but the position table holds 16"):
        model.get_text_features(too_long)


def test_empty_text_list(model):
    with pytest.raises(ValueError, match="text list is empty"):
        model.get_text_features(torch.zeros(0, 5, dtype=torch.long))


def test_token_ids_outside_the_vocabulary(model):
    with pytest.raises(ValueError, match="vocabulary has 99 entries"):
        model.get_text_features(torch.tensor([[0, 150, 1]]))


def test_attention_mask_shape_mismatch(model):
    texts = text_batch(batch=2)
    with pytest.raises(ValueError, match="attention_mask has shape"):
        model.get_text_features(texts["input_ids"], texts["attention_mask"][:, :4])


def test_empty_image_batch(model):
    with pytest.raises(ValueError, match="no images"):
        model.get_image_features(torch.zeros(0, 3, 32, 32))


def test_forward_needs_both_modalities(model):
    with pytest.raises(ValueError, match="get_text_features or get_image_features"):
        model(**text_batch())
