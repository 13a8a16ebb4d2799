"""Every endpoint of the demo through gradio_client against the app served on loopback from a real small run."""

import json

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image
from transformers import pipeline

from growclip_hf.demo.history import stage_point
from growclip_hf.demo.limits import DemoInputError, DemoLimits, check_image_file
from growclip_hf.evaluation.suite import load_suite

from .demo_helpers import serve_demo
from .run_helpers import small_run

LABELS = ["t-shirt", "pair of trousers", "sneaker", "handbag"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return small_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def served(run_dir, tmp_path_factory):
    demo, url = serve_demo(run_dir, tmp_path_factory.mktemp("examples"))
    yield Client(url, verbose=False), demo
    demo.close()


@pytest.fixture(scope="module")
def suite(run_dir):
    return load_suite(run_dir / "data" / "manifest.json", max_per_split=24)


@pytest.fixture(scope="module")
def test_image(suite, tmp_path_factory):
    path = tmp_path_factory.mktemp("upload") / "query.png"
    suite.zeroshot[0].images.images[0].save(path)
    return path


def test_stages_come_from_the_run_folder(served):
    client, _ = served
    info = client.view_api(return_format="dict", print_info=False)
    assert {"/classify", "/text_to_image", "/image_to_text", "/growth_plot"} <= set(info["named_endpoints"])
    choices = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/classify"]["parameters"]
    assert [parameter["parameter_name"] for parameter in choices][-2:] == ["stage_a", "stage_b"]


def test_classification_matches_the_models_own_zero_shot_pipeline(served, run_dir, test_image):
    client, _ = served
    left, right, summary = client.predict(
        handle_file(str(test_image)), ", ".join(LABELS), "a photo of a {}.", "stage-0", "stage-1", api_name="/classify"
    )
    for stage, result in (("stage-0", left), ("stage-1", right)):
        probabilities = {item["label"]: item["confidence"] for item in result["confidences"]}
        assert set(probabilities) == set(LABELS)
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        classifier = pipeline("zero-shot-image-classification", model=str(run_dir / stage), device="cpu")
        expected = classifier(Image.open(test_image), candidate_labels=LABELS, hypothesis_template="a photo of a {}.")
        for item in expected:
            assert probabilities[item["label"]] == pytest.approx(item["score"], abs=1e-4)
        assert f"{stage}: {result['label']}" in summary
    assert left != right  # the two stages are different models


def test_text_to_image_returns_k_gallery_images_per_stage(served, suite):
    client, _ = served
    query = suite.retrieval[0].captions[0]
    left, right = client.predict(query, 3, "stage-0", "stage-1", api_name="/text_to_image")
    gallery = {np.asarray(image).tobytes() for split in suite.retrieval for image in split.images.images}
    for results in (left, right):
        assert len(results) == 3
        scores = [float(item["caption"]) for item in results]
        assert scores == sorted(scores, reverse=True)
        for item in results:
            returned = Image.open(item["image"]).convert("RGB")
            assert np.asarray(returned).tobytes() in gallery


def test_image_to_text_returns_k_held_out_captions(served, suite, test_image):
    client, _ = served
    left, right = client.predict(handle_file(str(test_image)), 5, "stage-0", "stage-1", api_name="/image_to_text")
    captions = {caption for split in suite.retrieval for caption in split.captions}
    for table in (left, right):
        rows = table["data"]
        assert [row[0] for row in rows] == [1, 2, 3, 4, 5]
        assert all(row[1] in captions for row in rows)
        assert [row[2] for row in rows] == sorted((row[2] for row in rows), reverse=True)


def test_growth_plot_is_a_matplotlib_figure(served, run_dir):
    client, _ = served
    plot = client.predict(api_name="/growth_plot")
    assert plot["type"] == "matplotlib" and len(plot["plot"]) > 1000
    infos = [json.loads((run_dir / f"stage-{k}" / "stage_info.json").read_text()) for k in (0, 1)]
    assert infos[1]["parameters"] > infos[0]["parameters"], "the run grows the model at stage 1"
    points = [stage_point(f"stage-{k}", run_dir / f"stage-{k}") for k in (0, 1)]
    assert [(p.samples_seen, p.parameters) for p in points] == [(i["samples_seen"], i["parameters"]) for i in infos]
    assert "vision_config.num_hidden_layers: 2 -> 3" in points[1].changes


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("dress", "at least two comma-separated labels"),
        (", ".join(f"label {i}" for i in range(21)), "21 labels given; the limit is 20"),
    ],
)
def test_label_limits_give_clear_errors(served, test_image, labels, message):
    client, _ = served
    with pytest.raises(AppError, match=message):
        client.predict(handle_file(str(test_image)), labels, "{}", "stage-0", "stage-1", api_name="/classify")


def test_query_and_image_limits_give_clear_errors(served, tmp_path):
    client, _ = served
    with pytest.raises(AppError, match="201 characters; the limit is 200"):
        client.predict("x" * 201, 3, "stage-0", "stage-1", api_name="/text_to_image")
    huge = tmp_path / "huge.png"
    Image.new("L", (5000, 4000)).save(huge)  # 20 megapixels but a small file: refused by its header
    with pytest.raises(AppError, match="20,000,000 pixels; the limit is 16,000,000"):
        client.predict(handle_file(str(huge)), "a, b", "{}", "stage-0", "stage-1", api_name="/classify")


def test_byte_limit_refuses_large_files(served, test_image, tmp_path):
    client, demo = served
    padded = tmp_path / "padded.png"
    padded.write_bytes(test_image.read_bytes() + bytes(10_500_000))  # a valid PNG followed by 10.5 MB of padding
    with pytest.raises(ValueError, match="exceeds the maximum file size of 10000000 bytes"):  # the client reads it
        client.predict(handle_file(str(padded)), "a, b", "{}", "stage-0", "stage-1", api_name="/classify")
    upload = httpx.post(demo.local_url + "gradio_api/upload", files={"files": ("padded.png", padded.read_bytes())})
    assert upload.status_code == 413 and "maximum allowed size of 10000000 bytes" in upload.text  # the server too
    with pytest.raises(DemoInputError, match=r"The image is 10.5 MB; the limit is 10.0 MB"):
        check_image_file(padded, DemoLimits())  # and the handler, for files that reach it another way
