"""torch's threads leave a core to each loader worker, unless the user set OMP_NUM_THREADS."""

import pytest
import torch

from growclip_hf.training.threads import choose_torch_threads, torch_threads_for


@pytest.mark.parametrize(
    ("workers", "processes", "cores", "expected"),
    [(0, 1, 8, 8), (2, 1, 8, 6), (2, 2, 8, 2), (4, 1, 2, 1), (1, 1, 2, 1)],
)
def test_threads_are_the_cores_the_workers_leave(workers, processes, cores, expected):
    assert torch_threads_for(workers, processes, cores) == expected


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_trainer_process_sets_them_and_a_user_setting_wins(monkeypatch, restore_threads):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("growclip_hf.training.threads.available_cores", lambda: 3)
    assert choose_torch_threads(2, processes_per_machine=1) == 1 == torch.get_num_threads()
    assert choose_torch_threads(0, processes_per_machine=1) == 3 == torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    torch.set_num_threads(2)
    assert choose_torch_threads(2, processes_per_machine=1) == 2 == torch.get_num_threads()  # left as the user set it
