"""Publishing growth stages as Hub revisions, their model cards, and a local Hub-compatible server (model and dataset
repositories) for offline use, with ``use_local_hub`` to point huggingface_hub and datasets at it."""

from .loopback import local_hub_env, use_local_hub
from .publish import push_run, push_stage
from .server.app import start_server

__all__ = ["local_hub_env", "push_run", "push_stage", "start_server", "use_local_hub"]
