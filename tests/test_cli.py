import json
import os
import subprocess
import sys


def test_smoke_command_builds_saves_reloads_and_classifies(tmp_path):
    output = tmp_path / "smoke"
    result = subprocess.run(
        [sys.executable, "-m", "growclip_hf.cli", "smoke", "--output-dir", str(output)],
        env={**os.environ, "HF_HOME": str(tmp_path / "hf_home")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert set(report["pipeline_scores"]) == {"red circle", "green square", "blue triangle"}
    assert abs(sum(report["pipeline_scores"].values()) - 1.0) <= 1e-3
    for label, score in report["direct_scores"].items():
        assert abs(report["pipeline_scores"][label] - score) <= 1e-3
    assert "model.safetensors" in report["files"] and "tokenizer.json" in report["files"]
    assert (output / "config.json").exists()
