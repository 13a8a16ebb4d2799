"""GrowCLIP processor: a CLIP image processor plus the model's tokenizer, saved and loaded with the model."""

from transformers import ProcessorMixin


class GrowCLIPProcessor(ProcessorMixin):
    """Turns images and texts into ``pixel_values`` / ``input_ids`` / ``attention_mask`` for GrowCLIPModel.

    ``image_processor`` is a CLIP image processor (the PIL backend works without torchvision) and ``tokenizer`` a fast
    tokenizer with start/end-of-text and padding tokens, e.g. from ``growclip_hf.train_tokenizer``.
    """

    def __init__(self, image_processor=None, tokenizer=None, **kwargs):
        super().__init__(image_processor, tokenizer)


__all__ = ["GrowCLIPProcessor"]
