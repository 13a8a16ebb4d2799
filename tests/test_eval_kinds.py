"""Zero-shot means per task kind (object / attribute) with their chance levels, in the results and the report; a
manifest without kinds still evaluates (every task counts as an object task)."""

import json

import pytest

from growclip_hf.evaluation import evaluate_run, load_suite
from growclip_hf.evaluation.kinds import kind_summary, normalise_kind
from growclip_hf.evaluation.report import markdown_summary

from .eval_fixture import digits_manifest, digits_run  # noqa: F401  (pytest fixtures)


def test_kind_means_and_chance_levels_on_hand_computed_results():
    zeroshot = {
        "shoes": {"top1": 40.0, "num_classes": 10},
        "face": {"top1": 80.0, "num_classes": 2},
        "colour": {"top1": 50.0, "num_classes": 4},
        "user_task": {"top1": 20.0, "num_classes": 5},  # no kind given: an object task
        "position": {"top1": 30.0, "num_classes": 3},
    }
    kinds = {"shoes": "object", "face": "Object", "colour": "attribute", "position": "attribute"}
    summary = kind_summary(zeroshot, kinds)
    assert list(summary) == ["object", "attribute"]
    assert summary["object"]["tasks"] == ["shoes", "face", "user_task"]
    assert summary["object"]["mean_top1"] == pytest.approx((40 + 80 + 20) / 3)
    assert summary["object"]["chance_top1"] == pytest.approx((10 + 50 + 20) / 3)
    assert summary["attribute"]["mean_top1"] == pytest.approx(40.0)
    assert summary["attribute"]["chance_top1"] == pytest.approx((25 + 100 / 3) / 2)


def test_missing_kind_is_object_and_other_kinds_form_their_own_group():
    assert normalise_kind(None) == normalise_kind("") == normalise_kind(" OBJECT ") == "object"
    assert normalise_kind("attribute") == "attribute"
    summary = kind_summary(
        {"a": {"top1": 10.0, "num_classes": 2}, "b": {"top1": 30.0, "num_classes": 4}}, {"a": "style"}
    )
    assert list(summary) == ["object", "style"]
    with pytest.raises(ValueError, match="kind"):
        normalise_kind(3)


def test_run_results_and_report_give_each_kind_beside_its_chance(digits_run, digits_manifest):  # noqa: F811
    suite = load_suite(digits_manifest)
    assert {task.name: task.kind for task in suite.zeroshot} == {"digit": "object", "parity": "attribute"}
    results = evaluate_run(digits_run, suite)
    assert results["zeroshot_kinds"] == {
        "object": {"tasks": ["digit"], "chance_top1": pytest.approx(10.0)},
        "attribute": {"tasks": ["parity"], "chance_top1": pytest.approx(50.0)},
    }
    last = results["stages"][-1]
    assert last["zeroshot_by_kind"]["object"]["mean_top1"] == last["zeroshot"]["digit"]["top1"]
    assert last["zeroshot_by_kind"]["attribute"]["mean_top1"] == last["zeroshot"]["parity"]["top1"]
    headline = results["headline"]
    assert headline["stage"] == "stage-1"
    assert headline["object_zeroshot_top1"] == last["zeroshot"]["digit"]["top1"]
    assert (headline["object_zeroshot_chance"], headline["attribute_zeroshot_chance"]) == pytest.approx((10.0, 50.0))
    union = last["union_retrieval"]
    assert headline["retrieval_R@1"] == pytest.approx((union["i2t_R@1"] + union["t2i_R@1"]) / 2)
    assert results["continual"]["zeroshot_top1_object"]["final_average"] == pytest.approx(
        last["zeroshot"]["digit"]["top1"]
    )
    digit_column = [row[0] for row in results["matrices"]["zeroshot_top1"]["values"]]
    assert results["continual"]["zeroshot_top1_object"]["forgetting"] == pytest.approx(
        max(digit_column[:-1]) - digit_column[-1]
    )
    summary = markdown_summary(results, [])
    assert "object zero-shot top-1 (mean)" in summary and "attribute zero-shot top-1 (mean)" in summary
    assert "| chance | | | 10.00 | 50.00 |" in summary and summary.count("Headline (stage-1)") == 1


def test_a_manifest_without_kinds_still_evaluates_all_tasks_as_objects(digits_run, digits_manifest, tmp_path):  # noqa: F811
    manifest = json.loads(digits_manifest.read_text())
    for task in manifest["zeroshot"]:
        del task["kind"]
        task["files"] = [str(digits_manifest.parent / name) for name in task["files"]]
    for chunk in manifest["chunks"]:
        chunk["test"] = [str(digits_manifest.parent / name) for name in chunk["test"]]
    old = tmp_path / "manifest.json"
    old.write_text(json.dumps(manifest))
    results = evaluate_run(digits_run / "stage-0", load_suite(old))
    assert list(results["zeroshot_kinds"]) == ["object"]
    assert results["zeroshot_kinds"]["object"]["chance_top1"] == pytest.approx((10 + 50) / 2)
    assert results["headline"]["attribute_zeroshot_top1"] is None
    assert results["headline"]["object_zeroshot_top1"] == pytest.approx(
        sum(task["top1"] for task in results["stages"][0]["zeroshot"].values()) / 2
    )
