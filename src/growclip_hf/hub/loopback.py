"""Let huggingface_hub reach a Hub on this machine while the rest of the process stays offline.

The main job runs with HF_HUB_OFFLINE=1 (it must never touch the internet) yet publishes its stages to its own local
Hub. huggingface_hub reads the offline flag once at import, so the scope below switches its constants, for a loopback
endpoint only, and restores them afterwards.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from urllib.parse import urlparse

import huggingface_hub.constants as hub_constants

from .server.app import is_loopback


@contextmanager
def loopback_hub(endpoint: str):
    host = urlparse(endpoint).hostname or ""
    if not is_loopback(host):
        raise ValueError(f"{endpoint} is not a loopback address; only a local Hub may be reached in offline mode.")
    saved_constants = {name: getattr(hub_constants, name) for name in ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_XET")}
    saved_env = {name: os.environ.get(name) for name in ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_XET")}
    hub_constants.HF_HUB_OFFLINE = False
    hub_constants.HF_HUB_DISABLE_XET = True  # the local server takes plain commits, not Xet uploads
    os.environ.update(HF_HUB_OFFLINE="0", HF_HUB_DISABLE_XET="1")
    try:
        yield endpoint
    finally:
        for name, value in saved_constants.items():
            setattr(hub_constants, name, value)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def is_loopback_endpoint(endpoint: str | None) -> bool:
    return bool(endpoint) and is_loopback(urlparse(endpoint).hostname or "")
