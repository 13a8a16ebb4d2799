"""Retry Hub calls on transient failures (timeouts, 408/429/5xx, dropped connections) with exponential backoff."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

T = TypeVar("T")
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
logger = logging.getLogger(__name__)


def is_transient(error: BaseException) -> bool:
    if isinstance(error, OfflineModeIsEnabled):  # a ConnectionError, but waiting will not bring the network back
        return False
    if isinstance(error, HfHubHTTPError):
        response = getattr(error, "response", None)
        return response is not None and response.status_code in TRANSIENT_STATUS
    # Transport errors (refused/reset connections, timeouts) of the HTTP client huggingface_hub uses.
    return type(error).__name__ in {
        "ConnectError",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
    } or isinstance(error, (ConnectionError, TimeoutError))


def with_retries(call: Callable[[], T], what: str, attempts: int = 5, base_delay: float = 0.5) -> T:
    """Run ``call``; a transient failure waits base_delay * 2**n and tries again, anything else raises at once."""
    for attempt in range(attempts):
        try:
            return call()
        except Exception as error:  # noqa: BLE001 - filtered by is_transient, re-raised otherwise
            if attempt == attempts - 1 or not is_transient(error):
                raise
            delay = min(base_delay * 2**attempt, 8.0)
            logger.warning(
                "%s failed transiently (%s); retry %d/%d in %.1fs",
                what,
                type(error).__name__,
                attempt + 1,
                attempts - 1,
                delay,
            )
            time.sleep(delay)
    raise AssertionError("unreachable")
