"""Tokenizer training, the processor, and transformers' zero-shot pipeline on a saved folder, all offline."""

import pytest
import torch
from PIL import Image
from transformers import AutoProcessor, AutoTokenizer, pipeline

from growclip_hf import GrowCLIPModel, GrowCLIPProcessor, build_processor, train_tokenizer
from growclip_hf.stages.smoke import SMOKE_LABELS, shape_image

from .helpers import perturb_, tiny_config

CAPTIONS = [f"a photo of a {label}" for label in SMOKE_LABELS] + ["A Red Car on a road", "two dogs"] * 3


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(CAPTIONS, vocab_size=300, context_length=16)


def test_tokenizer_frames_captions_and_pads(tokenizer):
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (0, 1, 2)
    encoded = tokenizer(["a photo of a red circle", "dogs"], padding=True)
    first, second = encoded["input_ids"]
    assert first[0] == 0 and first[-1] == 1
    assert second[0] == 0 and 1 in second and second[-1] == 2
    assert encoded["attention_mask"][1][-1] == 0
    assert tokenizer.decode(first, skip_special_tokens=True) == "a photo of a red circle"


def test_tokenizer_lowercases_and_keeps_eos_when_truncating(tokenizer):
    assert tokenizer("RED Circle")["input_ids"] == tokenizer("red circle")["input_ids"]
    long = tokenizer("red " * 100, truncation=True)["input_ids"]
    assert len(long) == 16 and long[-1] == tokenizer.eos_token_id


def test_tokenizer_rejects_a_vocabulary_too_small_for_bytes():
    with pytest.raises(ValueError, match="vocab_size must be at least"):
        train_tokenizer(CAPTIONS, vocab_size=100)


def test_processor_round_trip(tmp_path, tokenizer):
    config = tiny_config(text_config={"vocab_size": len(tokenizer), "max_position_embeddings": 16})
    processor = build_processor(config, tokenizer)
    processor.save_pretrained(tmp_path)
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(reloaded, GrowCLIPProcessor)
    image = Image.new("RGBA", (50, 70), (10, 200, 30, 128))
    original = processor(text=["a red circle"], images=image, return_tensors="pt", padding=True)
    again = reloaded(text=["a red circle"], images=image, return_tensors="pt", padding=True)
    assert original["pixel_values"].shape == (1, 3, 32, 32)
    torch.testing.assert_close(original["pixel_values"], again["pixel_values"])
    assert original["input_ids"].tolist() == again["input_ids"].tolist()
    assert (
        AutoTokenizer.from_pretrained(tmp_path)("a red circle")["input_ids"] == tokenizer("a red circle")["input_ids"]
    )


def test_processor_rejects_a_tokenizer_that_does_not_fit_the_model(tokenizer):
    with pytest.raises(ValueError, match="vocab_size"):
        build_processor(tiny_config(text_config={"vocab_size": 50}), tokenizer)


def test_zero_shot_pipeline_on_a_saved_folder(tmp_path, tokenizer):
    torch.manual_seed(0)
    config = tiny_config(shared_layers=1, text_config={"vocab_size": len(tokenizer), "max_position_embeddings": 16})
    model = perturb_(GrowCLIPModel(config)).eval()
    processor = build_processor(config, tokenizer)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)

    classifier = pipeline("zero-shot-image-classification", model=str(tmp_path), device="cpu")
    image = shape_image("green square")
    results = classifier(image, candidate_labels=list(SMOKE_LABELS), hypothesis_template="a photo of a {}")
    assert sorted(item["label"] for item in results) == sorted(SMOKE_LABELS)
    assert sum(item["score"] for item in results) == pytest.approx(1.0, abs=1e-5)

    inputs = processor(
        text=[f"a photo of a {label}" for label in SMOKE_LABELS], images=image, return_tensors="pt", padding=True
    )
    with torch.no_grad():
        expected = model(**inputs).logits_per_image.softmax(-1)[0]
    by_label = {item["label"]: item["score"] for item in results}
    for label, probability in zip(SMOKE_LABELS, expected.tolist(), strict=True):
        assert by_label[label] == pytest.approx(probability, abs=1e-5)
