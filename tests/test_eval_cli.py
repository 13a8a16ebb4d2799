"""`growclip-hf eval` on a run folder and on a model folder; suite reading and embedding on real digit images."""

import json
import shutil

import pytest
import torch
from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage
from sklearn.datasets import load_digits

from growclip_hf.cli import main
from growclip_hf.evaluation import embed_pixels, embed_texts, load_suite
from growclip_hf.evaluation.runs import discover_stages, load_stage

from .eval_fixture import digit_png, digits_manifest, digits_run  # noqa: F401  (pytest fixtures)


def _eval(source, output, manifest, *extra) -> int:
    """Run ``growclip-hf eval`` in this process (the subprocess path is covered by the smoke command's test)."""
    return main(
        ["eval", str(source), "--output-dir", str(output)]
        + (["--data", str(manifest)] if manifest else [])
        + list(extra)
    )


def test_eval_on_a_run_folder_writes_json_markdown_and_plots(digits_run, digits_manifest, tmp_path):  # noqa: F811
    output = tmp_path / "eval"
    assert _eval(digits_run, output, digits_manifest) == 0
    results = json.loads((output / "eval_results.json").read_text())
    assert [stage["name"] for stage in results["stages"]] == ["stage-0", "stage-1"]
    assert [stage["samples_seen"] for stage in results["stages"]] == [1200, 2600]
    assert results["stages"][1]["parameters"] > results["stages"][0]["parameters"]
    rm = results["matrices"]["retrieval_Rm"]
    assert rm["columns"] == ["digits-low", "digits-high"] and len(rm["values"]) == 2
    assert rm["values"][0][0] == results["stages"][0]["retrieval"]["digits-low"]["Rm"]
    # Union retrieval after the first stage covers only the first chunk, so it equals that chunk's own retrieval.
    assert results["stages"][0]["union_retrieval"] == results["stages"][0]["retrieval"]["digits-low"]
    assert results["stages"][1]["union_retrieval"]["num_images"] == 80
    assert results["continual"]["retrieval_Rm"]["backward_transfer"] == pytest.approx(
        rm["values"][1][0] - rm["values"][0][0]
    )
    parity = results["stages"][0]["zeroshot"]["parity"]
    assert parity["top5"] is None and parity["num_classes"] == 2
    assert results["stages"][0]["zeroshot"]["digit"]["top5"] is not None
    (disorder,) = results["spatial_disorder"]
    assert (disorder["from"], disorder["to"]) == ("stage-0", "stage-1")
    assert disorder["num_probe_pairs"] == 40 and disorder["image_rotation_deg"] > 0
    summary = (output / "eval_summary.md").read_text()
    assert "stage-1" in summary and "Spatial disorder" in summary
    for name in ("retrieval_Rm_matrix", "retrieval_Rm_curves", "zeroshot_top1_matrix", "growth_timeline"):
        png = output / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert min(PILImage.open(png).size) > 100


def test_eval_on_a_single_model_folder(digits_run, digits_manifest, tmp_path):  # noqa: F811
    output = tmp_path / "eval"
    assert _eval(digits_run / "stage-1", output, digits_manifest, "--no-plots", "--max-per-split", "20") == 0
    results = json.loads((output / "eval_results.json").read_text())
    assert results["single_model"] and results["spatial_disorder"] == []
    assert results["stages"][0]["union_retrieval"]["num_images"] == 40  # both chunks, 20 rows each
    assert results["continual"]["retrieval_Rm"]["forgetting"] is None
    assert not list(output.glob("*.png"))


def test_eval_without_a_manifest_says_what_to_pass(digits_run, tmp_path):  # noqa: F811
    with pytest.raises(SystemExit, match="--data"):
        _eval(digits_run, tmp_path / "eval", None)


def test_suite_reads_caption_lists_and_plain_caption_strings(digits_manifest, tmp_path):  # noqa: F811
    suite = load_suite(digits_manifest)
    split = suite.retrieval[0]
    assert len(split.images) == 40 and len(split.captions) == 80
    assert split.caption_image_index[:4].tolist() == [0, 0, 1, 1]
    assert {task.name: len(task.classnames) for task in suite.zeroshot} == {"digit": 10, "parity": 2}
    # The train shards hold one caption string per image: read one as a test split through its own manifest.
    train_file = json.loads(digits_manifest.read_text())["chunks"][0]["train"][0]
    shutil.copy(digits_manifest.parent / train_file, tmp_path / "pairs.parquet")
    (tmp_path / "manifest.json").write_text(json.dumps({"chunks": [{"name": "pairs", "test": ["pairs.parquet"]}]}))
    single = load_suite(tmp_path).retrieval[0]
    assert len(single.captions) == len(single.images) == 20
    assert single.caption_image_index.tolist() == list(range(20))
    assert single.captions[0].startswith("a handwritten ")


def test_suite_prefers_a_captions_list_and_reads_column_names_from_the_manifest(tmp_path):
    # The data builder's layout: one "caption" string and all "captions" of the image; manifest names the columns.
    features = Features({"picture": Image(), "caption": Value("string"), "captions": List(Value("string"))})
    digits = [{"bytes": digit_png(load_digits().images[i])} for i in range(3)]
    captions = [["a zero", "zero, by hand"], ["a one"], ["a two", "two", "the digit two"]]
    rows = {"picture": digits, "caption": [c[0] for c in captions], "captions": captions}
    Dataset.from_dict(rows, features=features).to_parquet(str(tmp_path / "test.parquet"))
    manifest = {
        "image_column": "picture",
        "text_column": "caption",
        "chunks": [{"name": "c", "test": ["test.parquet"]}],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    split = load_suite(tmp_path / "manifest.json").retrieval[0]
    assert split.captions == ["a zero", "zero, by hand", "a one", "a two", "two", "the digit two"]
    assert split.caption_image_index.tolist() == [0, 0, 1, 2, 2, 2]
    assert split.images.images[0].size == (32, 32) and split.images.images[0].mode == "RGB"
    assert load_suite(tmp_path / "manifest.json", text_column="caption").retrieval[0].captions == [
        "a zero",
        "a one",
        "a two",
    ]


def test_embeddings_are_normalised_batch_invariant_and_gradient_free(digits_run, digits_manifest):  # noqa: F811
    model, processor = load_stage(discover_stages(digits_run)[0])
    split = load_suite(digits_manifest).retrieval[0]
    pixels = split.images.pixel_values(processor.image_processor)
    assert split.images.pixel_values(processor.image_processor) is pixels  # preprocessed once, then cached
    whole, batched = embed_pixels(model, pixels, batch_size=256), embed_pixels(model, pixels, batch_size=7)
    assert torch.allclose(whole, batched, atol=1e-5)
    assert torch.allclose(whole.norm(dim=-1), torch.ones(len(whole)), atol=1e-5)
    assert not whole.requires_grad
    texts = embed_texts(model, processor.tokenizer, split.captions[:9], batch_size=4)
    one_by_one = torch.cat([embed_texts(model, processor.tokenizer, [caption]) for caption in split.captions[:9]])
    assert torch.allclose(texts, one_by_one, atol=1e-5)  # padding inside a batch does not change an embedding


def test_growth_timeline_falls_back_to_the_stage_axis_without_samples_seen(tmp_path):
    from growclip_hf.evaluation.plots import plot_growth_timeline

    stages = [{"name": "stage-0", "parameters": 1000, "samples_seen": None}, {"name": "stage-1", "parameters": 3000}]
    path = plot_growth_timeline(stages, tmp_path / "timeline.png", growth_log=[{"samples_seen": 5, "params_after": 3}])
    assert PILImage.open(path).size == (600, 400)
