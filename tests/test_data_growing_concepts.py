"""The stream whose demand grows: new concepts per chunk, every pair drawn afresh, zero-shot over all seen so far."""

import numpy as np
import pytest

from growclip_hf.data.benchmark.growing_concepts import GrowingConceptStream, concept_pool


def test_each_chunk_brings_new_concepts_and_the_task_covers_all_seen():
    stream = GrowingConceptStream(concepts_per_chunk=30, num_chunks=3, image_size=24, seed=0)
    names = [c.name for c in stream.concepts]
    assert len(set(names)) == 90
    assert [len(stream.seen(k)) for k in range(3)] == [30, 60, 90]
    assert stream.seen(1)[:30] == stream.seen(0)
    images, labels = stream.heldout(2, renders_per_concept=2)
    assert images.shape == (180, 24, 24, 3) and images.dtype == np.uint8
    assert sorted(set(labels.tolist())) == list(range(90))
    assert concept_pool(seed=1)[:30] != concept_pool(seed=0)[:30]  # the order of arrival follows the seed


def test_pairs_are_drawn_afresh_and_mix_new_with_earlier_concepts():
    stream = GrowingConceptStream(concepts_per_chunk=20, num_chunks=2, image_size=24, new_share=0.5, seed=0)
    rng = np.random.default_rng(0)
    concept = stream.concepts[0]
    first, second = stream.render(concept, rng), stream.render(concept, rng)
    assert not np.array_equal(first, second)  # position, scale, tint and background change at every draw
    images, captions = stream.sample(1, 400, rng)
    new = {c.name for c in stream.concepts[20:]}
    shares = np.mean([any(name in caption for name in new) for caption in captions])
    assert 0.35 < shares < 0.65
    _, only_new = stream.sample(0, 50, rng)
    assert all(any(c.name in caption for c in stream.concepts[:20]) for caption in only_new)
    heldout_a, _ = stream.heldout(1)
    heldout_b, _ = stream.heldout(1)
    assert np.array_equal(heldout_a, heldout_b)  # held-out renders are fixed, from their own random stream


def test_a_stream_larger_than_its_sources_says_so():
    with pytest.raises(ValueError, match="need more than"):
        GrowingConceptStream(concepts_per_chunk=10_000, num_chunks=2)
