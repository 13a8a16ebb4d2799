"""Shared by the demo tests: one small real run (built once per session through the CLI) and a demo served on
loopback from it."""

import functools
import socket
from pathlib import Path

from .run_helpers import growclip


@functools.cache
def small_run(base: Path) -> Path:
    """``growclip-hf run --scale small --stages 2`` growing the vision tower at stage 1, built once (~10 s)."""
    out = base / "demo-run"
    command = ["run", "--scale", "small", "--stages", "2", "--policy", "schedule", "--output-dir", str(out)]
    growth = '--set=growth.schedule=[{"vision_config": {"num_hidden_layers": 3}}]'
    result = growclip([*command, growth], base)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_demo(run_dir: Path, examples_dir: Path):
    """The demo app of ``run_dir`` served on a free loopback port without blocking; returns (blocks, url)."""
    from growclip_hf.demo.app import OFFLINE_THEME, build_demo
    from growclip_hf.demo.limits import DemoLimits
    from growclip_hf.demo.sources import local_source

    demo, allowed = build_demo(local_source(run_dir), examples_dir=examples_dir)
    demo.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        theme=OFFLINE_THEME,
        allowed_paths=allowed,
        max_file_size=DemoLimits().max_image_bytes,
    )
    return demo, demo.local_url
