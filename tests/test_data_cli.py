"""``growclip-hf data check`` and ``growclip-hf data build`` as a user runs them."""

import json

from growclip_hf.cli import main

from .data_helpers import encode, fashion_image, pair_rows, png_header_only, tiny_processor, write_parquet


def _dirty_source(tmp_path, bad: int):
    rows = pair_rows(20)
    for row in rows[:bad]:
        row["image"] = {"bytes": png_header_only(0, 5), "path": None}
    rows[-1]["caption"] = "   "
    rows[-2]["image"] = {"bytes": encode(fashion_image(3).convert("CMYK"), "JPEG"), "path": None}
    write_parquet(rows, tmp_path, num_shards=2)
    return str(tmp_path)


def test_check_prints_json_last_and_passes_under_the_limit(tmp_path, capsys):
    code = main(["data", "check", _dirty_source(tmp_path, bad=1), "--max-bad-share", "0.2"])
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert last["ok"] == 18 and last["skipped"] == {"zero_size": 1, "empty_caption": 1}
    assert last["repaired"] == {"mode_CMYK": 1}


def test_check_exits_non_zero_over_the_limit(tmp_path, capsys):
    code = main(["data", "check", _dirty_source(tmp_path, bad=6), "--max-bad-share", "0.2"])
    captured = capsys.readouterr()
    assert code == 1 and "over the limit" in captured.err
    assert json.loads(captured.out.strip().splitlines()[-1])["skipped"]["zero_size"] == 6


def test_check_names_a_missing_column(tmp_path, capsys):
    code = main(["data", "check", _dirty_source(tmp_path, bad=0), "--text-column", "alt_text"])
    assert code == 2 and "alt_text" in capsys.readouterr().err


def test_build_writes_the_benchmark(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["data", "build", "--scale", "small", "--out", str(out), "--image-size", "32"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["image_size"] == 32 and len(manifest["chunks"]) >= 6
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["out"] == str(out)


def test_check_with_a_processor_counts_captions_over_the_context(tmp_path, capsys):
    rows = pair_rows(6)
    rows[0]["caption"] = "a long caption " * 30
    write_parquet(rows, tmp_path / "src", num_shards=1)
    tiny_processor().save_pretrained(tmp_path / "model")
    assert main(["data", "check", str(tmp_path / "src"), "--processor", str(tmp_path / "model")]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["ok"] == 6 and last["repaired"] == {"truncated_caption": 1}
