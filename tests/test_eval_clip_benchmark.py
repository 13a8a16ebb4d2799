"""CLIP_benchmark's own metric code and ours agree on a GrowCLIP checkpoint loaded through our adapter."""

import torch
from clip_benchmark.metrics import zeroshot_classification, zeroshot_retrieval
from torch.utils.data import DataLoader, Dataset

from growclip_hf.evaluation import load_growclip, load_suite, retrieval_metrics
from growclip_hf.evaluation.clip_benchmark_adapter import patch_clip_benchmark_for_numpy2
from growclip_hf.evaluation.evaluator import embed_retrieval_splits, evaluate_zeroshot
from growclip_hf.evaluation.runs import Stage, load_stage
from growclip_hf.evaluation.zeroshot import class_embeddings, zeroshot_logits

from .eval_fixture import digits_manifest, digits_run  # noqa: F401  (pytest fixtures)


class ClassificationSet(Dataset):
    """(transformed image, label) pairs with the ``classes`` attribute CLIP_benchmark reads."""

    def __init__(self, images, labels, classes, transform):
        self.images, self.labels, self.classes, self.transform = images, labels, classes, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.transform(self.images[index]), int(self.labels[index])


class CaptionedSet(Dataset):
    def __init__(self, images, captions_per_image, transform):
        self.images, self.captions, self.transform = images, captions_per_image, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.transform(self.images[index]), self.captions[index]


def _collate_captioned(batch):
    return torch.stack([image for image, _ in batch]), [captions for _, captions in batch]


def test_clip_benchmark_zero_shot_classification_matches_ours(digits_manifest, digits_run):  # noqa: F811
    suite = load_suite(digits_manifest)
    task = next(task for task in suite.zeroshot if len(task.classnames) >= 5)
    stage = digits_run / "stage-0"
    model, transform, tokenizer = load_growclip(str(stage))
    their_templates = [template.replace("{}", "{c}") for template in task.templates]  # the same prompts
    loader = DataLoader(ClassificationSet(task.images.images, task.labels, task.classnames, transform), batch_size=16)

    patch_clip_benchmark_for_numpy2()  # its accuracy() calls float() on a 1-element array (TypeError on NumPy 2.4)
    theirs = zeroshot_classification.evaluate(
        model, loader, tokenizer, task.classnames, their_templates, "cpu", amp=False
    )
    our_model, processor = load_stage(Stage(stage.name, 0, stage))
    ours = evaluate_zeroshot(our_model, processor, suite, batch_size=64)[task.name]

    assert abs(ours["top1"] - 100 * theirs["acc1"]) < 1e-9
    assert abs(ours["top5"] - 100 * theirs["acc5"]) < 1e-9
    assert abs(ours["mean_per_class_recall"] - 100 * theirs["mean_per_class_recall"]) < 1e-9
    # Not a degenerate agreement: the brief training makes the model better than chance and not one-class.
    assert ours["top1"] > 100 / len(task.classnames)

    classifier = zeroshot_classification.zero_shot_classifier(
        model, tokenizer, task.classnames, their_templates, "cpu", amp=False
    )
    their_logits, _ = zeroshot_classification.run_classification(model, classifier, loader, "cpu", amp=False)
    our_images = torch.nn.functional.normalize(
        our_model.encode_image(task.images.pixel_values(processor.image_processor)), dim=-1
    )
    our_logits = zeroshot_logits(
        our_images, class_embeddings(our_model, processor.tokenizer, task.classnames, task.templates)
    )
    assert torch.allclose(our_logits, their_logits, atol=1e-3)
    assert torch.equal(our_logits.argmax(1), their_logits.argmax(1))
    assert their_logits.argmax(1).unique().numel() > 1


def test_clip_benchmark_retrieval_matches_ours_with_several_captions(digits_manifest, digits_run):  # noqa: F811
    suite = load_suite(digits_manifest)
    split = suite.retrieval[0]
    stage = digits_run / "stage-0"
    model, transform, tokenizer = load_growclip(str(stage))
    captions_per_image = [[] for _ in range(len(split.images))]
    for caption, image in zip(split.captions, split.caption_image_index.tolist(), strict=True):
        captions_per_image[image].append(caption)
    assert min(len(captions) for captions in captions_per_image) >= 2
    # Make every caption distinct so no exact ties exist (their top-k and our tie rule only differ on ties).
    captions_per_image = [[f"{caption} {i}" for caption in captions] for i, captions in enumerate(captions_per_image)]
    loader = DataLoader(
        CaptionedSet(split.images.images, captions_per_image, transform), batch_size=16, collate_fn=_collate_captioned
    )
    theirs = zeroshot_retrieval.evaluate(model, loader, tokenizer, "cpu", amp=False, recall_k_list=[1, 5, 10])

    our_model, processor = load_stage(Stage(stage.name, 0, stage))
    split.captions = [caption for captions in captions_per_image for caption in captions]
    split.caption_image_index = torch.tensor([i for i, captions in enumerate(captions_per_image) for _ in captions])
    embeddings = embed_retrieval_splits(our_model, processor, suite, batch_size=64)[0]
    ours = retrieval_metrics(embeddings.images, embeddings.captions, embeddings.caption_image_index)
    for k in (1, 5, 10):
        assert abs(ours[f"i2t_R@{k}"] - 100 * theirs[f"text_retrieval_recall@{k}"]) < 1e-4
        assert abs(ours[f"t2i_R@{k}"] - 100 * theirs[f"image_retrieval_recall@{k}"]) < 1e-4
    assert 0 < ours["t2i_R@10"] < 100  # a non-trivial case
