"""Counts of good, skipped and repaired samples, so that bad input is never silent and a bad source stops the run."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class BadSample(Exception):
    """Raised for a sample the pipeline cannot use; ``reason`` is the counter it is skipped under."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class TooManyBadSamplesError(RuntimeError):
    """The share of skipped samples went over the configured limit: the source is probably wrong, not just dirty."""


@dataclass
class DataQuality:
    """Running counts: ``ok`` samples, ``skipped`` by reason, ``repaired`` (converted modes, truncated captions)."""

    ok: int = 0
    skipped: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)

    @property
    def num_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def bad_share(self) -> float:
        seen = self.ok + self.num_skipped
        return self.num_skipped / seen if seen else 0.0

    def merge(self, other: DataQuality | dict) -> DataQuality:
        other = other if isinstance(other, DataQuality) else DataQuality.from_dict(other)
        self.ok += other.ok
        self.skipped.update(other.skipped)
        self.repaired.update(other.repaired)
        return self

    def check(self, max_bad_share: float, min_samples: int = 100) -> None:
        """Raise once enough samples were seen to judge and more than ``max_bad_share`` of them were skipped."""
        seen = self.ok + self.num_skipped
        if seen >= min_samples and self.bad_share > max_bad_share:
            raise TooManyBadSamplesError(
                f"{self.num_skipped} of {seen} samples ({self.bad_share:.1%}) were skipped, over the limit of "
                f"{max_bad_share:.1%}; reasons: {dict(self.skipped)}. Check the source and its column names, or "
                "raise max_bad_share."
            )

    def log(self, prefix: str = "data") -> None:
        logger.info(
            "%s: %d ok, %d skipped %s, repaired %s",
            prefix,
            self.ok,
            self.num_skipped,
            dict(self.skipped),
            dict(self.repaired),
        )

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "skipped": dict(sorted(self.skipped.items())),
            "repaired": dict(sorted(self.repaired.items())),
        }

    @classmethod
    def from_dict(cls, data: dict) -> DataQuality:
        return cls(
            ok=int(data.get("ok", 0)),
            skipped=Counter(data.get("skipped", {})),
            repaired=Counter(data.get("repaired", {})),
        )
