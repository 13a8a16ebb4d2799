"""HTTP byte ranges (RFC 9110 section 14) for file downloads: one range per request, as the Hub's CDN answers.

``bytes=a-b``, ``bytes=a-`` and ``bytes=-n`` select one range (206 Partial Content); a range that starts past the
end, an empty suffix or ``b < a`` cannot be satisfied (416); a header in another unit or with several ranges is
ignored and the whole file is sent (200), which the RFC allows.
"""

from __future__ import annotations

import re

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class RangeNotSatisfiable(Exception):
    """The Range header asks for bytes the file does not have; answer 416 with ``Content-Range: bytes */size``."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions to send, or None for the whole file."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    match = _SPEC.match(spec)
    if match is None or match.group(1) == match.group(2) == "":
        raise RangeNotSatisfiable(f"Malformed range {header!r}.")
    first, last = match.group(1), match.group(2)
    if first == "":  # suffix: the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise RangeNotSatisfiable(f"Range {header!r} selects no bytes of a {size}-byte file.")
        return max(0, size - count), size - 1
    start = int(first)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if start >= size or (last != "" and int(last) < start):
        raise RangeNotSatisfiable(f"Range {header!r} is outside a {size}-byte file.")
    return start, end
