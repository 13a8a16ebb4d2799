"""Let huggingface_hub and datasets reach a Hub on this machine while the rest of the process stays offline.

The main job runs with ``HF_HUB_OFFLINE=1`` (it must never touch the internet) yet publishes its stages to its own
local Hub and may stream its data from one. huggingface_hub and datasets read their settings once, at import, so
the scopes below switch the module constants (and the environment, for processes started inside the scope), for a
loopback endpoint only, and restore them when the last overlapping scope ends:

- ``loopback_hub(url)``: huggingface_hub online (Xet off) for calls that name the endpoint themselves, as
  publishing does (``HfApi(endpoint=url)``); the default endpoint is left alone.
- ``use_local_hub(url)``: in addition, ``url`` becomes the default endpoint of huggingface_hub and of datasets, so
  ``datasets.load_dataset("ORG/NAME", streaming=True, ...)``, ``HfFileSystem()`` and ``hf_hub_download`` read from
  the local Hub exactly as from the real one. Nothing can reach huggingface.co inside this scope: every Hub call
  goes to ``url`` (a model id that only exists on the real Hub then fails as "not found"; load those before, or
  from a local folder). datasets' download counter and its dataset-viewer (parquet export) lookups are switched off.
- ``local_hub_env(url)``: the same settings as environment variables, for a process started from outside Python
  (``accelerate launch``): set them before huggingface_hub or datasets is imported.

Scopes may overlap across threads and nest in any order; two scopes naming different endpoints at once are refused.
"""

from __future__ import annotations

import importlib
import os
import threading
from contextlib import contextmanager, nullcontext
from urllib.parse import urlparse

import huggingface_hub.constants as hub_constants

from .server.app import is_loopback


def is_loopback_endpoint(endpoint: str | None) -> bool:
    return bool(endpoint) and is_loopback(urlparse(endpoint).hostname or "")


def _require_loopback(endpoint: str) -> str:
    if not is_loopback_endpoint(endpoint):
        raise ValueError(f"{endpoint} is not a loopback address; only a local Hub may be reached in offline mode.")
    return endpoint.rstrip("/")


def local_hub_env(endpoint: str) -> dict[str, str]:
    """Environment variables that make a new process use the local Hub at ``endpoint`` (see the module doc)."""
    endpoint = _require_loopback(endpoint)
    return {
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "0",
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
        "HF_HUB_DISABLE_XET": "1",  # the local server takes plain commits, not Xet uploads
        "HF_UPDATE_DOWNLOAD_COUNTS": "0",  # datasets would ping an S3 bucket on every load
    }


class _SharedOverride:
    """Attribute and environment overrides shared by overlapping scopes: the first applies, the last restores."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._key: str | None = None
        self._saved_attrs: list[tuple[object, str, object]] = []
        self._saved_env: dict[str, str | None] = {}

    def enter(self, key: str, attrs: list[tuple[object, str, object]], env: dict[str, str]) -> None:
        with self._lock:
            if self._users and key != self._key:
                raise ValueError(f"A local Hub scope for {self._key} is active; cannot switch to {key} meanwhile.")
            if not self._users:
                self._key = key
                self._saved_env = {name: os.environ.get(name) for name in env}
                self._saved_attrs = [(obj, name, getattr(obj, name)) for obj, name, _ in attrs]
                os.environ.update(env)
                for obj, name, value in attrs:
                    setattr(obj, name, value)
            self._users += 1

    def exit(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users:
                return
            for obj, name, value in reversed(self._saved_attrs):
                setattr(obj, name, value)
            for name, value in self._saved_env.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            self._key, self._saved_attrs, self._saved_env = None, [], {}


_ONLINE = _SharedOverride()
_ENDPOINT = _SharedOverride()


@contextmanager
def loopback_hub(endpoint: str):
    """huggingface_hub online (and Xet off) for the scope; ``endpoint`` must be a loopback address."""
    _require_loopback(endpoint)
    _ONLINE.enter(
        "online",
        [(hub_constants, "HF_HUB_OFFLINE", False), (hub_constants, "HF_HUB_DISABLE_XET", True)],
        {"HF_HUB_OFFLINE": "0", "HF_HUB_DISABLE_XET": "1"},
    )
    try:
        yield endpoint
    finally:
        _ONLINE.exit()


def loopback_scope(endpoint: str | None):
    """``loopback_hub(endpoint)`` for a Hub on this machine (reachable in offline mode), else a scope that does
    nothing: any other endpoint is reached only where the user allowed the network."""
    return loopback_hub(endpoint) if is_loopback_endpoint(endpoint) else nullcontext()


@contextmanager
def use_local_hub(endpoint: str):
    """The local Hub at ``endpoint`` is the Hub of huggingface_hub and datasets for the scope (see the module doc).

    Enter it in every process that reads from the Hub (each rank of a multi-process run), around both
    ``load_dataset(...)`` and the iteration over the stream: files are opened while iterating.
    """
    endpoint = _require_loopback(endpoint)
    # Imported before the environment changes, so what is saved (and later restored) is the outer configuration.
    datasets_config = importlib.import_module("datasets.config")
    hf_api = importlib.import_module("huggingface_hub.hf_api")
    attrs = [
        (hub_constants, "ENDPOINT", endpoint),
        (hub_constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}"),
        (hf_api.api, "endpoint", endpoint),  # the instance behind huggingface_hub.list_repo_files & co
        (datasets_config, "HF_ENDPOINT", endpoint),
        (datasets_config, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"),
        (datasets_config, "HF_HUB_OFFLINE", False),
        (datasets_config, "HF_DATASETS_OFFLINE", False),
        (datasets_config, "HF_UPDATE_DOWNLOAD_COUNTS", False),
        # The dataset viewer's parquet export lives on another host (datasets-server.<endpoint host>): not local.
        (datasets_config, "USE_PARQUET_EXPORT", False),
    ]
    with loopback_hub(endpoint):
        _ENDPOINT.enter(endpoint, attrs, local_hub_env(endpoint))
        try:
            yield endpoint
        finally:
            _ENDPOINT.exit()
