"""Publishing growth stages as Hub revisions, their model cards, and a local Hub-compatible server for offline use."""

from .publish import push_run, push_stage
from .server.app import start_server

__all__ = ["push_run", "push_stage", "start_server"]
