"""Which rows of a source a chunk holds: a column's values (a year, a date prefix), a slice of the stream, and the
held-out pairs carved from it.

Held-out pairs are chosen by a hash of the pair's own content (caption and image bytes) and a seed, never by position:
the same pairs are held out whatever the sharding, the number of processes, the shuffle or a resume, so a held-out
pair is never trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import datasets

HELDOUT_ROLES = ("exclude", "only")


@dataclass(frozen=True)
class RowSelection:
    """Rows kept from a source, applied in this order: column values, skip/take, held-out carving.

    ``values`` match ``column`` exactly, or as a string prefix (``"2021"`` matches the date ``"2021-03-04"``).
    ``heldout`` is ``"exclude"`` (the training rows) or ``"only"`` (the held-out rows), with ``heldout_fraction`` of
    the pairs held out.
    """

    column: str | None = None
    values: tuple = ()
    skip: int = 0
    take: int | None = None
    heldout: str | None = None
    heldout_fraction: float = 0.0
    seed: int = 0

    def __post_init__(self):
        if self.heldout is not None and self.heldout not in HELDOUT_ROLES:
            raise ValueError(f"heldout must be one of {HELDOUT_ROLES} or None, got {self.heldout!r}.")
        if not 0.0 <= self.heldout_fraction < 1.0:
            raise ValueError(f"heldout_fraction must be in [0, 1), got {self.heldout_fraction}.")
        if self.column is not None and not self.values:
            raise ValueError(f"Selecting by column {self.column!r} needs the values to keep.")


def _image_fingerprint(value) -> bytes:
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path") or b""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return repr(value).encode()


def heldout_score(image, text, seed: int) -> float:
    """A number in [0, 1) fixed by the pair's content and the seed; pairs below the fraction are held out."""
    digest = hashlib.blake2b(digest_size=8, key=seed.to_bytes(8, "little", signed=True))
    digest.update(_image_fingerprint(image))
    digest.update(b"\0")
    digest.update(str(text).encode())
    return int.from_bytes(digest.digest(), "big") / 2**64


class _ColumnIn:
    """Keeps rows whose ``column`` is one of ``wanted`` (exactly, or as a string prefix); a class, so it pickles."""

    def __init__(self, column: str, wanted: tuple):
        self.column, self.wanted = column, wanted
        self.prefixes = tuple(str(v) for v in wanted if isinstance(v, str))

    def __call__(self, row) -> bool:
        value = row[self.column]
        return value in self.wanted or (bool(self.prefixes) and str(value).startswith(self.prefixes))


class _HeldOut:
    """Keeps the held-out pairs (``keep_heldout``) or the others."""

    def __init__(self, image_column: str, text_column: str, fraction: float, seed: int, keep_heldout: bool):
        self.image_column, self.text_column = image_column, text_column
        self.fraction, self.seed, self.keep_heldout = fraction, seed, keep_heldout

    def __call__(self, row) -> bool:
        held = heldout_score(row[self.image_column], row[self.text_column], self.seed) < self.fraction
        return held if self.keep_heldout else not held


def apply_selection(
    stream: datasets.IterableDataset, selection: RowSelection, image_column: str, text_column: str
) -> datasets.IterableDataset:
    """``stream`` restricted to the selected rows (lazy: nothing is read here)."""
    if selection.column is not None:
        stream = stream.filter(_ColumnIn(selection.column, tuple(selection.values)))
    if selection.skip:
        stream = stream.skip(selection.skip)
    if selection.take is not None:
        stream = stream.take(selection.take)
    if selection.heldout is not None and selection.heldout_fraction > 0:
        keep_heldout = selection.heldout == "only"
        stream = stream.filter(
            _HeldOut(image_column, text_column, selection.heldout_fraction, selection.seed, keep_heldout)
        )
    return stream
