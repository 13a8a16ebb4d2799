"""Exact resume: a loader restored from a checkpoint yields exactly what the uninterrupted loader would have."""

import json

import pytest
import torch

from growclip_hf.data import SourceSpec, create_loader

from .data_helpers import pair_rows, tiny_processor, write_parquet

NUM_ROWS = 120


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume")
    write_parquet(pair_rows(NUM_ROWS), folder, num_shards=4)
    return SourceSpec(str(folder), text_column="captions")  # two wordings: caption sampling is part of the state


def _loader(source, num_workers, snapshot_every=3, seed=11, processor=None):
    return create_loader(
        source, processor or tiny_processor(), batch_size=7, num_workers=num_workers, shuffle_buffer=16, seed=seed,
        snapshot_every_n_steps=snapshot_every,
    )  # fmt: skip


def _samples(batches) -> list[tuple]:
    """Each sample as (token ids without padding, pixel checksum): what the model sees."""
    out = []
    for batch in batches:
        for ids, mask, pixels in zip(batch["input_ids"], batch["attention_mask"], batch["pixel_values"], strict=True):
            out.append((tuple(ids[mask.bool()].tolist()), round(float(pixels.double().sum()), 3)))
    return out


@pytest.mark.parametrize("num_workers,stop_after", [(2, 5), (2, 8), (0, 4)])
def test_resumed_run_sees_exactly_the_uninterrupted_samples(source, num_workers, stop_after):
    reference = _samples(_loader(source, num_workers))
    assert len(reference) == NUM_ROWS and len(set(reference)) == NUM_ROWS

    first = _loader(source, num_workers)
    seen, iterator = [], iter(first)
    for _ in range(stop_after):
        seen.extend(_samples([next(iterator)]))
    state = json.loads(json.dumps(_jsonable(first.state_dict())))  # a checkpoint survives serialisation
    del iterator, first

    resumed = _loader(source, num_workers)
    resumed.load_state_dict(_restore(state))
    rest = _samples(resumed)
    assert seen + rest == reference  # sample by sample, in order
    assert resumed.quality.ok == NUM_ROWS  # counts continue from the checkpoint


def test_shuffle_is_real_and_seeded(source):
    ordered = [sample[0] for sample in _samples(_loader(source, 0, seed=1))]
    again = [sample[0] for sample in _samples(_loader(source, 0, seed=1))]
    other = [sample[0] for sample in _samples(_loader(source, 0, seed=2))]
    assert ordered == again and ordered != other and sorted(ordered) == sorted(set(ordered))


def test_captions_are_sampled_per_pass(source):
    processor = tiny_processor(context_length=48)  # long enough for both wordings
    loader = _loader(source, 0, processor=processor)
    tokenizer = processor.tokenizer
    passes = []
    for epoch in range(2):
        loader.set_epoch(epoch)
        passes.append({tokenizer.decode(ids, skip_special_tokens=True) for ids, _ in _samples(loader)})
    assert passes[0] != passes[1]
    assert all(any("seen again" in text for text in texts) for texts in passes)
    assert all(any("seen again" not in text for text in texts) for texts in passes)


def _jsonable(value):
    """torch tensors/bytes in a state dict as JSON-friendly values (checkpoints are written with torch.save or JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return {"__bytes__": value.hex()}
    if isinstance(value, torch.Tensor):
        return {"__tensor__": value.tolist()}
    return value


def _restore(value):
    if isinstance(value, dict):
        if "__bytes__" in value:
            return bytes.fromhex(value["__bytes__"])
        if "__tensor__" in value:
            return torch.tensor(value["__tensor__"])
        return {k: _restore(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore(v) for v in value]
    return value
