"""Named points where a test may kill the process, to prove that a run resumes exactly from anywhere.

``GROWCLIP_KILL_AT="<point>:<n>"`` sends SIGKILL to this process the n-th time it reaches ``<point>`` (``search``,
``checkpoint``, ``publish``, ``stream``). Without the variable, which only the kill-anywhere tests set, a point costs
one environment lookup and does nothing.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

KILL_POINTS = ("search", "checkpoint", "publish", "stream")
_reached: Counter = Counter()


def kill_point(name: str) -> None:
    """SIGKILL this process here when ``GROWCLIP_KILL_AT`` names this point and this visit."""
    wanted = os.environ.get("GROWCLIP_KILL_AT")
    if not wanted:
        return
    point, _, visit = wanted.partition(":")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] == int(visit or 1):
        os.kill(os.getpid(), signal.SIGKILL)
