"""The GrowCLIP Space: `python app.py` serves the demo of the model this Space points at.

Which model: GROWCLIP_DEMO_REPO_ID (+ GROWCLIP_DEMO_REVISION, GROWCLIP_DEMO_ENDPOINT) for a Hub repository, else
GROWCLIP_DEMO_MODEL for a local folder, else the model files this app sits next to (a stage revision holds both).
The app itself lives in the growclip-hf package (growclip_hf.demo), installed from requirements.txt.
"""

import os
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import growclip_hf  # noqa: E402,F401  (registers GrowCLIP with transformers' Auto classes)
from growclip_hf.demo.app import launch_demo  # noqa: E402
from growclip_hf.demo.sources import source_from_environment  # noqa: E402

if __name__ == "__main__":
    launch_demo(
        source_from_environment(Path(__file__).parent),
        host=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
