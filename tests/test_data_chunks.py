"""Chunked streams and the replay policies: none, all chunks so far, and a reservoir of N pairs."""

import json

import pytest

from growclip_hf.data import ChunkedStream, SourceSpec

from .data_helpers import caption_for, pair_rows, tiny_processor, write_parquet

SIZES = (20, 30, 40)


@pytest.fixture(scope="module")
def chunks(tmp_path_factory):
    root = tmp_path_factory.mktemp("chunks")
    specs, start = [], 0
    for index, size in enumerate(SIZES):
        write_parquet(pair_rows(size, start=start), root / f"chunk{index}", num_shards=2)
        specs.append(SourceSpec(str(root / f"chunk{index}")))
        start += size
    return specs


def _captions(stream) -> list[str]:
    return [row["text"] for row in stream]


def _chunk_captions(index: int) -> set[str]:
    start = sum(SIZES[:index])
    return {caption_for(i) for i in range(start, start + SIZES[index])}


def test_no_replay_streams_only_the_current_chunk(chunks):
    stream = ChunkedStream(chunks, replay="none")
    for index in range(len(SIZES)):
        assert sorted(_captions(stream.source(index))) == sorted(_chunk_captions(index))


def test_all_replay_interleaves_every_chunk_so_far_once(chunks):
    stream = ChunkedStream(chunks, replay="all", sizes=list(SIZES), seed=3)
    seen = _captions(stream.source(2))
    assert sorted(seen) == sorted(set().union(*(_chunk_captions(i) for i in range(3))))
    positions = {i: [n for n, text in enumerate(seen) if text in _chunk_captions(i)] for i in range(3)}
    assert min(positions[0]) < len(seen) // 2 and min(positions[2]) < len(seen) // 2  # mixed, not concatenated


def test_reservoir_replay_keeps_n_uniform_pairs_from_earlier_chunks(chunks):
    stream = ChunkedStream(chunks, replay="reservoir", reservoir_size=16, seed=5, sizes=list(SIZES))
    assert stream.reservoir(0) == []
    memory = [row["text"] for row in stream.reservoir(2)]
    earlier = _chunk_captions(0) | _chunk_captions(1)
    assert len(memory) == 16 and set(memory) <= earlier and len(set(memory)) == 16
    assert set(memory) & _chunk_captions(0) and set(memory) & _chunk_captions(1)  # both earlier chunks represented
    seen = _captions(stream.source(2))
    assert sorted(seen) == sorted(_chunk_captions(2) | set(memory))
    again = ChunkedStream(chunks, replay="reservoir", reservoir_size=16, seed=5, sizes=list(SIZES))
    assert [row["text"] for row in again.reservoir(2)] == memory  # a pure function of the seed: no pairs in checkpoints
    other = ChunkedStream(chunks, replay="reservoir", reservoir_size=16, seed=6, sizes=list(SIZES))
    assert [row["text"] for row in other.reservoir(2)] != memory


def test_chunk_loader_batches_for_the_model(chunks):
    stream = ChunkedStream(chunks, replay="reservoir", reservoir_size=10, sizes=list(SIZES))
    loader = stream.loader(1, tiny_processor(), batch_size=8, num_workers=2, shuffle_buffer=8)
    total = sum(len(batch["input_ids"]) for batch in loader)
    assert total == SIZES[1] + 10 and loader.quality.ok == total


def test_manifest_chunks_and_unknown_policy(tmp_path, chunks):
    manifest = {
        "chunks": [
            {"name": f"c{i}", "train": [f"chunk{i}/x.parquet"], "test": [], "num_train": size, "num_test": 0}
            for i, size in enumerate(SIZES)
        ]
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    stream = ChunkedStream.from_manifest(tmp_path, text_column="captions")
    assert stream.names == ["c0", "c1", "c2"] and stream.sizes == list(SIZES)
    assert stream.chunks[1].text_column == "captions" and stream.chunks[1].source[0].endswith("chunk1/x.parquet")
    with pytest.raises(ValueError):
        ChunkedStream(chunks, replay="everything")
