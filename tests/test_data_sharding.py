"""Two real processes, each with its rank, split a stream with no pair seen twice and none lost."""

import json
import os
import subprocess
import sys
from pathlib import Path

from growclip_hf.data import process_rank_and_world_size

from .data_helpers import caption_for, pair_rows, write_parquet

ROOT = Path(__file__).resolve().parents[1]
WORKER = """
import json, sys
from growclip_hf.data import SourceSpec, create_loader
from tests.data_helpers import tiny_processor
processor = tiny_processor(context_length=48)
seen = {}
for folder, workers in json.loads(sys.argv[1]):
    loader = create_loader(SourceSpec(folder), processor, batch_size=5, num_workers=workers, shuffle_buffer=8)
    seen[folder] = [processor.tokenizer.decode(ids[mask.bool()], skip_special_tokens=True)
                    for batch in loader for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]
print(json.dumps(seen))
"""
CASES = [(4, 2), (3, 0)]  # 4 shards: whole shards per rank, 2 workers each; 3 shards: every other row per rank


def _run_two_ranks(jobs: list) -> list[dict]:
    processes = []
    for rank in range(2):
        env = {
            **os.environ,
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(jobs)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
        )
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    return outputs


def test_two_processes_no_overlap_no_loss(tmp_path):
    rows = pair_rows(50)
    jobs = []
    for num_shards, num_workers in CASES:
        folder = tmp_path / f"shards{num_shards}"
        write_parquet(rows, folder, num_shards=num_shards)
        jobs.append((str(folder), num_workers))
    rank0, rank1 = _run_two_ranks(jobs)
    for folder, _ in jobs:
        first, second = rank0[folder], rank1[folder]
        assert first and second
        assert not set(first) & set(second)
        assert sorted(first + second) == sorted(caption_for(i) for i in range(50))
        assert abs(len(first) - len(second)) <= 2


def test_rank_comes_from_arguments_then_environment(monkeypatch):
    from accelerate.state import PartialState

    monkeypatch.setattr(PartialState, "_shared_state", {})  # as in a process where Accelerate was never started
    assert process_rank_and_world_size(3, 4) == (3, 4)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert process_rank_and_world_size() == (1, 2)
