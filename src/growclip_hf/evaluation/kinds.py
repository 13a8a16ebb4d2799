"""Zero-shot tasks by kind: ``object`` (what the thing is) and ``attribute`` (how many, where, what colour...).

A mean over all tasks mixes the two, and attribute tasks are far easier for a small model (a background colour is
learnt long before an object), so results give each kind's mean top-1 beside its chance level, the mean of
``100 / num_classes`` over the tasks of that kind. The object mean is the headline.

A manifest task without a ``kind`` (a format-1 manifest, or a user's own task) counts as ``object``: a zero-shot
task is about objects unless it says otherwise, as in CLIP_benchmark's suites and in the tasks of a user's stream
(``stages/eval_manifest.py``). Any other kind a manifest names is kept as its own group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

OBJECT, ATTRIBUTE = "object", "attribute"
KINDS = (OBJECT, ATTRIBUTE)
DEFAULT_KIND = OBJECT


def normalise_kind(value) -> str:
    """The manifest's kind string, lower-case; missing or empty means ``object``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_KIND
    if not isinstance(value, str):
        raise ValueError(f"A zero-shot task's kind must be a string such as 'object' or 'attribute', got {value!r}.")
    return value.strip().lower()


def ordered_kinds(kinds: Sequence[str]) -> list[str]:
    """``object`` first, then ``attribute``, then any other kinds in order of appearance."""
    seen = list(dict.fromkeys(kinds))
    return [kind for kind in KINDS if kind in seen] + [kind for kind in seen if kind not in KINDS]


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def kind_summary(zeroshot: Mapping[str, Mapping], kinds: Mapping[str, str]) -> dict[str, dict]:
    """Per kind: ``{"tasks": [...], "mean_top1": float, "chance_top1": float}`` for one checkpoint's zero-shot results.

    ``zeroshot`` maps task name to its metrics (``top1`` and ``num_classes``, as ``zeroshot_metrics`` returns them);
    ``kinds`` maps task name to its kind (a task missing there counts as ``object``).
    """
    groups: dict[str, list[str]] = {}
    for name in zeroshot:
        groups.setdefault(normalise_kind(kinds.get(name)), []).append(name)
    return {
        kind: {
            "tasks": groups[kind],
            "mean_top1": _mean([zeroshot[name]["top1"] for name in groups[kind]]),
            "chance_top1": _mean([100.0 / zeroshot[name]["num_classes"] for name in groups[kind]]),
        }
        for kind in ordered_kinds(list(groups))
    }
