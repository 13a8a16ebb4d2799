"""The loader's fast image transform must give exactly what the model's processor gives."""

import numpy as np
import pytest
from PIL import Image

from growclip_hf import build_image_processor
from growclip_hf.data import ClipImageTransform

from .data_helpers import fashion_image


@pytest.mark.parametrize("size", [(40, 48), (48, 40), (32, 32), (17, 90), (200, 31), (8, 8)])
@pytest.mark.parametrize("image_size", [32, 64])
def test_transform_matches_processor(size, image_size):
    processor = build_image_processor(image_size)
    transform = ClipImageTransform.from_image_processor(processor)
    image = fashion_image(7, size)
    expected = processor(images=image, return_tensors="np")["pixel_values"][0]
    actual = transform(image)
    assert actual.shape == (3, image_size, image_size) and actual.dtype == np.float32
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_transform_keeps_real_photo_content():
    """A real photo survives: a centre crop of a landscape photo matches the processor on every pixel."""
    from skimage import data

    photo = Image.fromarray(data.astronaut()).resize((97, 64))
    processor = build_image_processor(32)
    expected = processor(images=photo, return_tensors="np")["pixel_values"][0]
    np.testing.assert_allclose(ClipImageTransform.from_image_processor(processor)(photo), expected, atol=1e-5)
    assert expected.std() > 0.3  # a real, varied image, not a constant


def test_batch_normalisation_in_the_main_process_matches_the_processor():
    """Workers send uint8 crops; the loader normalises whole batches: still the processor's numbers."""
    import torch

    processor = build_image_processor(32)
    transform = ClipImageTransform.from_image_processor(processor)
    images = [fashion_image(i, (30 + i, 50)) for i in range(4)]
    crops = torch.from_numpy(np.stack([transform.resize_crop(image) for image in images]))
    assert crops.dtype == torch.uint8
    expected = processor(images=images, return_tensors="np")["pixel_values"]
    np.testing.assert_allclose(transform.normalize_batch(crops).numpy(), expected, atol=1e-5)
