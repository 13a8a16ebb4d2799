"""Training on the user's own stream: chunks from `datasets` sources (a list, or one source cut by a column or by
count), held-out pairs carved by content and never trained on, sizes counted, and one-line errors for bad configs."""

import json

import pyarrow.parquet as pq
import pytest
import yaml

from growclip_hf.data import SourceSpec, open_stream
from growclip_hf.data.selection import RowSelection, heldout_score
from growclip_hf.stages.stream_plan import StreamConfigError, chunk_sizes, stream_chunks

from .run_helpers import growclip
from .stream_helpers import tiny_stream_settings, write_yearly_stream


@pytest.fixture(scope="module")
def yearly(tmp_path_factory):
    return write_yearly_stream(tmp_path_factory.mktemp("stream"))


def _texts(spec: SourceSpec) -> list[str]:
    return [row[spec.text_column] for row in open_stream(spec)]


def _images(spec: SourceSpec) -> list[bytes]:
    """Each pair's image bytes (an imagefolder's rows point at their files)."""
    cells = [row[spec.image_column] for row in open_stream(spec)]
    return [cell["bytes"] or open(cell["path"], "rb").read() for cell in cells]


def test_heldout_pairs_are_carved_by_content_and_never_trained_on(yearly):
    data = {"chunks": [{"name": "2021", "source": str(yearly), "data_dir": "2021"}], "heldout_fraction": 0.2}
    data |= {"image_column": "jpg", "text_column": "txt"}
    (chunk,) = stream_chunks(data)
    train, heldout = _images(chunk.train), _images(chunk.heldout)
    assert len(train) + len(heldout) == 96 and 5 <= len(heldout) <= 35
    assert not set(train) & set(heldout)
    # by content, not position: the same pairs whatever the shard a process reads
    assert sorted(heldout) == sorted(_images(stream_chunks(data)[0].heldout))
    assert all(heldout_score({"bytes": b}, "x", 0) != heldout_score({"bytes": b}, "x", 1) for b in heldout[:3])


def test_one_source_cut_by_year_and_by_count(yearly):
    base = {"source": str(yearly / "*" / "*.parquet"), "image_column": "jpg", "text_column": "txt"}
    by_year = stream_chunks({"stream": {**base, "by": "year"}})
    assert [c.name for c in by_year] == ["year=2021", "year=2022"]
    captions_2022 = set(_texts(by_year[1].train)) | set(_texts(by_year[1].heldout))
    assert captions_2022 == {"a photo of a pair of trousers", "a photo of a dress", "a photo of a sandal"} | {
        "a photo of a sneaker",
        "a photo of a ankle boot",
    }
    by_prefix = stream_chunks({"stream": {**base, "by": "year", "values": [[2021, 2022]], "names": ["all"]}})
    assert chunk_sizes(by_prefix)[0] + len(_texts(by_prefix[0].heldout)) == 192
    by_count = stream_chunks({"stream": {**base, "every": 50, "num_chunks": 3}, "heldout_fraction": 0.1})
    sizes = [len(_texts(c.train)) + len(_texts(c.heldout)) for c in by_count]
    assert sizes == [50, 50, 50]


def test_sizes_are_counted_once_and_cached(yearly, tmp_path):
    data = {"chunks": [{"source": str(yearly), "data_dir": "2021"}, {"source": str(yearly), "data_dir": "2022"}]}
    chunks = stream_chunks({**data, "image_column": "jpg", "text_column": "txt"})
    cache = tmp_path / "sizes.json"
    sizes = chunk_sizes(chunks, cache)
    assert sizes == [len(_texts(c.train)) for c in chunks] and json.loads(cache.read_text())["chunk_0"] == sizes[0]
    assert [path.name for path in tmp_path.iterdir()] == ["sizes.json"]  # written whole, no partial file left


def test_the_processes_that_only_read_the_sizes_never_rewrite_them(yearly, tmp_path):
    """Every process reads the main process's cache after a barrier; a second writer would let a reader see a
    truncated file while it rewrites it."""
    data = {"chunks": [{"source": str(yearly), "data_dir": "2021"}, {"source": str(yearly), "data_dir": "2022"}]}
    chunks = stream_chunks({**data, "image_column": "jpg", "text_column": "txt"})
    cache = tmp_path / "sizes.json"
    cache.write_text('{"chunk_0": 7, "chunk_1": 9}')
    before = cache.stat().st_mtime_ns
    assert chunk_sizes(chunks, cache, write=False) == [7, 9]  # read, not counted
    assert cache.stat().st_mtime_ns == before and cache.read_text() == '{"chunk_0": 7, "chunk_1": 9}'


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"chunks": [{"name": "a"}]}, "needs a source"),
        ({"chunks": [{"source": "x", "bogus": 1}]}, "unknown keys ['bogus']"),
        ({"stream": {"source": "x", "by": "year", "every": 3}}, "exactly one of `by`"),
        ({"chunks": [], "stream": {}}, "exactly one of `chunks`"),
        ({"chunks": [{"source": "x"}], "heldout_fraction": 0.9}, "heldout_fraction"),
    ],
)
def test_bad_stream_configs_say_what_to_fix(data, message):
    with pytest.raises(StreamConfigError, match=message.replace("[", r"\[").replace("`", "`")):
        stream_chunks(data)


def test_row_selection_checks_its_arguments():
    with pytest.raises(ValueError, match="heldout must be"):
        RowSelection(heldout="both")
    with pytest.raises(ValueError, match="needs the values"):
        RowSelection(column="year")


def _config(tmp_path, data: dict, **extra) -> str:
    settings = tiny_stream_settings(tmp_path / "run") | {"data": data} | extra
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(settings))
    return str(path)


def test_train_streams_chunks_grows_and_evaluates_on_held_out_pairs(yearly, tmp_path):
    data = {
        "stream": {"source": str(yearly / "*" / "*.parquet"), "by": "year"},
        "image_column": "jpg",
        "text_column": "txt",
        "heldout_fraction": 0.15,
    }
    zeroshot = {
        "zeroshot": [
            {
                "name": "fashion-2022",
                "source": str(yearly),
                "data_dir": "2022",
                "split": "train",
                "image_column": "jpg",
                "label_column": "label",
                "templates": ["a photo of a {c}"],
                "kind": "object",
                "max_images": 40,
            }
        ]
    }
    result = growclip(["train", _config(tmp_path, data, evaluation=zeroshot)], tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    out = tmp_path / "run"
    assert (out / "stage-0" / "model.safetensors").is_file() and (out / "stage-1" / "model.safetensors").is_file()
    grown = json.loads((out / "stage-1" / "config.json").read_text())
    assert grown["vision_config"]["num_hidden_layers"] == 2
    manifest = json.loads((out / "data" / "eval" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["chunks"]] == ["year=2021", "year=2022"]
    task = manifest["zeroshot"][0]
    assert task["classnames"][3] == "dress" and task["kind"] == "object"  # from the source's ClassLabel names
    # the evaluation's pairs are exactly the carved held-out pairs, none of which is a training pair
    (chunk_2022,) = [c for c in stream_chunks(data) if c.name == "year=2022"]
    held = pq.read_table(out / "data" / "eval" / manifest["chunks"][1]["test"][0]).column("image").to_pylist()
    held = {cell["bytes"] for cell in held}
    assert held == set(_images(chunk_2022.heldout)) and not held & set(_images(chunk_2022.train))
    assert "## Stages" in (out / "report.md").read_text()


def test_missing_column_stops_before_training_in_one_line(yearly, tmp_path):
    data = {"chunks": [{"source": str(yearly), "data_dir": "2021"}], "image_column": "jpg", "text_column": "caption"}
    result = growclip(["train", _config(tmp_path, data)], tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "caption" in result.stderr and "available columns" in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()


def _write_webdataset(root, rows: list[dict], shards: int = 2):
    import io
    import tarfile

    root.mkdir(parents=True, exist_ok=True)
    per_shard = -(-len(rows) // shards)
    for shard in range(shards):
        with tarfile.open(root / f"pairs-{shard:05d}.tar", "w") as tar:
            for index, row in enumerate(rows[shard * per_shard : (shard + 1) * per_shard]):
                key = f"{shard:02d}{index:04d}"
                for suffix, payload in (("png", row["jpg"]["bytes"]), ("txt", row["txt"].encode())):
                    info = tarfile.TarInfo(f"{key}.{suffix}")
                    info.size = len(payload)
                    tar.addfile(info, io.BytesIO(payload))


def _write_imagefolder(root, rows: list[dict]):
    root.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, row in enumerate(rows):
        (root / f"{index:04d}.png").write_bytes(row["jpg"]["bytes"])
        lines.append(json.dumps({"file_name": f"{index:04d}.png", "text": row["txt"]}))
    (root / "metadata.jsonl").write_text("\n".join(lines) + "\n")


def test_webdataset_shards_and_imagefolders_are_streamed(yearly, tmp_path):
    rows = pq.read_table(yearly / "2021" / "train-00000.parquet").to_pylist()[:40]
    _write_webdataset(tmp_path / "wds", rows)
    chunks = stream_chunks(
        {
            "stream": {"source": str(tmp_path / "wds" / "*.tar"), "every": 15, "num_chunks": 2},
            "image_column": "png",
            "text_column": "txt",
        }
    )
    seen = [_texts(c.train) + _texts(c.heldout) for c in chunks]
    assert [len(s) for s in seen] == [15, 15] and seen[0] + seen[1] == [r["txt"] for r in rows[:30]]
    _write_imagefolder(tmp_path / "folder", rows[:12])
    (chunk,) = stream_chunks({"chunks": [{"source": str(tmp_path / "folder")}], "text_column": "text"})
    images = sorted(_images(chunk.train) + _images(chunk.heldout))
    assert images == sorted(r["jpg"]["bytes"] for r in rows[:12])
