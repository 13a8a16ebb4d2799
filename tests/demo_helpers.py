"""Shared by the demo tests: one small real run (built once per session through the CLI) and a demo served on
loopback from it."""

from pathlib import Path

from .run_helpers import free_port


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
