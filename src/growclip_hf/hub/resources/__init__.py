"""Files the wheel ships for publishing: the model-card template and the Gradio Space that goes into every revision.

Found through ``importlib.resources`` (never relative to a source checkout), so an installed package publishes the
same revision as the repository does. The repository's top-level ``modeling_cards/`` and ``spaces_demo/`` point here.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

MODEL_CARD_TEMPLATE = "growclip_stage.md.jinja"


def _resource_dir(name: str) -> Path:
    folder = files(__name__) / name
    if not isinstance(folder, Path) or not folder.is_dir():
        raise FileNotFoundError(
            f"growclip-hf's {name} files are missing from {folder}; reinstall the package from its wheel "
            "(pip install --force-reinstall growclip-hf) rather than from a zip or a partial copy."
        )
    return folder


def model_card_dir() -> Path:
    """The folder holding the jinja template of the per-stage model card."""
    return _resource_dir("modeling_cards")


def space_dir() -> Path:
    """The Gradio Space (app.py, requirements.txt, README.md with front matter) copied into every revision."""
    return _resource_dir("spaces_demo")
