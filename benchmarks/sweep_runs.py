"""The bookkeeping of a sweep of training runs: a store of finished runs that an interrupted sweep resumes from, and a
gate that bounds how many runs train at once and which waiting run starts next."""

from __future__ import annotations

import contextlib
import heapq
import json
import threading
from pathlib import Path


class RunStore:
    """Finished runs by key, saved after every run so an interrupted sweep resumes where it stopped."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.runs = json.loads(path.read_text()) if path.is_file() else {}

    def get(self, key: str) -> dict | None:
        return self.runs.get(key)

    def put(self, key: str, result: dict) -> None:
        with self.lock:
            self.runs[key] = result
            self.path.write_text(json.dumps(self.runs, indent=1, sort_keys=True) + "\n")


class PriorityGate:
    """At most ``slots`` runs at once; a freed slot goes to the waiting run of lowest priority, first come first."""

    def __init__(self, slots: int):
        self.free = slots
        self.waiting: list[tuple[int, int]] = []
        self.condition = threading.Condition()
        self.counter = 0

    @contextlib.contextmanager
    def turn(self, rank: int):
        with self.condition:
            self.counter += 1
            ticket = (rank, self.counter)
            heapq.heappush(self.waiting, ticket)
            self.condition.wait_for(lambda: self.free > 0 and self.waiting[0] == ticket)
            heapq.heappop(self.waiting)
            self.free -= 1
            self.condition.notify_all()
        try:
            yield
        finally:
            with self.condition:
                self.free += 1
                self.condition.notify_all()
