"""The loss code keeps every tensor it creates on its inputs' device, and teachers see the attention mask.

The suite runs on CPU, where a tensor created without ``device=`` lands on the right device by accident; on a GPU it
would be a crash. Tensors on PyTorch's ``meta`` device (shapes without data) make the mistake visible here: mixing a
meta tensor with a CPU tensor raises, as mixing a CUDA tensor with one would.
"""

import pytest
import torch
import torch.fx.experimental._config
import torch.nn.functional as F

from growclip_hf.continual.base import embed_pair
from growclip_hf.continual.ctp import enqueue, initial_queue, momentum_contrast_loss, topology_kl
from growclip_hf.continual.modx import modx_alignment_loss
from growclip_hf.objective import contrastive_backward, global_contrastive_loss

from .continual_fixtures import current_model
from .helpers import pixel_batch, text_batch

META = torch.device("meta")


def _unit(rows: int, width: int = 8) -> torch.Tensor:
    return F.normalize(torch.randn(rows, width, device=META), dim=-1)


def test_ctp_terms_stay_on_the_inputs_device():
    image, text, momentum_image, momentum_text = (_unit(4) for _ in range(4))
    for kind in ("empty", "random"):
        queue_image = initial_queue(kind, 16, 8, seed=0, device=META, dtype=torch.float32)
        queue_text = initial_queue(kind, 16, 8, seed=1, device=META, dtype=torch.float32)
        assert queue_image.device == queue_text.device == META
        loss = momentum_contrast_loss(image, text, momentum_image, momentum_text, queue_image, queue_text, tau=0.07)
        assert loss.device == META
        assert enqueue(queue_image, momentum_image, 16).device == META
    assert topology_kl(image, _unit(6), momentum_image, _unit(6), tau=0.07, self_offset=2).device == META


def test_modx_and_the_contrastive_loss_stay_on_the_inputs_device(monkeypatch):
    # Mod-X keeps rows by a boolean mask; on meta tensors its size is unknown unless torch may assume all rows kept
    monkeypatch.setattr(torch.fx.experimental._config, "meta_nonzero_assume_all_nonzero", True)
    image, text, old_image, old_text = (_unit(4) for _ in range(4))
    assert modx_alignment_loss(image, text, old_image, old_text).device == META
    assert global_contrastive_loss(image, text, torch.tensor(10.0, device=META)).device == META


def _left_padded(rows: int = 4) -> dict:
    """Right padding after the end token cannot change a causal text tower's pooled output; left padding can."""
    right = text_batch(batch=rows, seq_len=10, seed=5)
    shifts = [int(10 - n) for n in right["attention_mask"].sum(dim=1)]  # move each row's padding to the front
    ids = torch.stack([row.roll(shift) for row, shift in zip(right["input_ids"], shifts, strict=True)])
    mask = torch.stack([row.roll(shift) for row, shift in zip(right["attention_mask"], shifts, strict=True)])
    assert not torch.equal(mask, right["attention_mask"])  # some rows are really left-padded
    return {"input_ids": ids, "attention_mask": mask, "pixel_values": pixel_batch(batch=rows, seed=5)}


def test_teacher_embeddings_use_the_attention_mask():
    model = current_model(seed=0).eval()
    batch = _left_padded()
    ids = batch["input_ids"]
    teacher_image, teacher_text = embed_pair(model, batch)
    with torch.no_grad():
        out = model(**batch)
    torch.testing.assert_close(teacher_text, out.text_embeds)
    torch.testing.assert_close(teacher_image, out.image_embeds)
    with torch.no_grad():
        unmasked = model(input_ids=ids, pixel_values=batch["pixel_values"]).text_embeds
    assert not torch.allclose(unmasked, out.text_embeds, atol=1e-4)  # the mask matters for this batch


@pytest.mark.parametrize("micro_batches", [1, 2])
def test_the_contrastive_step_uses_the_attention_mask(micro_batches):
    model = current_model(seed=0).eval()
    batch = _left_padded(rows=4)
    with torch.no_grad():
        out = model(**batch)
        expected = global_contrastive_loss(out.image_embeds, out.text_embeds, out.logit_scale)
    parts = [{key: value[i::micro_batches] for key, value in batch.items()} for i in range(micro_batches)]
    if micro_batches > 1:  # the cached path concatenates the parts: compare against the same row order
        with torch.no_grad():
            joined = model(**{key: torch.cat([p[key] for p in parts]) for key in batch})
            expected = global_contrastive_loss(joined.image_embeds, joined.text_embeds, joined.logit_scale)
    torch.testing.assert_close(contrastive_backward(model, parts), expected)


def test_growth_search_inputs_are_moved_to_the_runs_device():
    """A GPU run of the auto policy crashed here: the stream's CPU batches reached candidates on the GPU."""
    from growclip_hf.stages.continual_run import search_inputs
    from growclip_hf.stages.manifest_plan import ManifestPlan

    from .data_helpers import small_benchmark, tiny_processor

    plan = ManifestPlan(small_benchmark() / "manifest.json", processor=tiny_processor(), replay="reservoir")
    proxy, heldout = search_inputs(plan, stage=1, batch_size=8, seed=0, device=META)
    assert len(proxy) == 4
    tensors = [value for batch in [*proxy, heldout] for value in batch.values() if torch.is_tensor(value)]
    assert {"input_ids", "attention_mask", "pixel_values"} <= set(heldout)
    assert tensors and all(tensor.device == META for tensor in tensors)
    assert proxy[0]["input_ids"].shape[0] == 8 and heldout["pixel_values"].shape[0] > 8
