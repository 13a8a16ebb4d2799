"""docs/benchmarks.md is assembled from sections that each benchmark script owns and rewrites on its own.

A section sits between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``; rewriting one leaves the others as they
are, so the scripts can run separately (and on different days) and the page stays whole.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

HEADER = """# Benchmarks

Every number on this page is written by a script in `benchmarks/`; each section names its command, machine,
versions and commit. `make bench-throughput` (about 10 minutes, in the `.venv-bench` environment that
`make bench-env` builds: see [installation](installation.md)) and `make bench-growth` (3 seeds of the growth sweep:
about 8.5 hours on 2 cores; `benchmarks/gpu_growth_sweep.sh` runs it on a CUDA machine) regenerate their sections;
`make bench-real-sizes` (`benchmarks/real_sizes.py`, about 30 minutes and up to 10 GB on 2 cores) writes "Real sizes".
The growth sweep keeps every finished run in its store (`docs/growth_efficiency_runs.json` by default) and reuses it:
move that file away (or pass `--store`) to measure again, or pass `--stored-only` to tabulate a store as it is.
"""
SECTION_START = re.compile(r"<!-- [\w-]+:start -->")


def machine() -> str:
    """CPU model and core count, for the reader to judge absolute numbers."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    described = f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    torch = sys.modules.get("torch")  # only when the benchmark already uses it: naming a GPU is no reason to import
    if torch is not None and torch.cuda.is_available():
        described += f", {torch.cuda.get_device_name(0)}"
    return described


def library_versions(*names: str) -> str:
    """``name version`` of each importable package, in order; packages that do not import are left out."""
    import importlib

    found = []
    for name in names:
        try:
            found.append(f"{name} {importlib.import_module(name).__version__}")
        except Exception:  # e.g. open_clip beside the CPU torch: torchvision fails to import
            continue
    return ", ".join(found)


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def mean_spread(values: list[float], digits: int = 1, single: str = "") -> str:
    """ "mean ± sample standard deviation" over seeds; one value as it is (plus ``single``), none as n/a."""
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{single}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def write_section(path: str | Path, name: str, text: str, header: str | None = HEADER) -> None:
    """Rewrite section ``name`` of ``path``; ``header=None`` keeps the page's own text outside the sections."""
    path = Path(path)
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{text.strip()}\n{end}"
    page = path.read_text() if path.is_file() else (header or "")
    if header is not None:
        first = SECTION_START.search(page)
        page = header + "\n" + page[first.start() :] if first else header  # the header always as written here
    if start in page and end in page:
        before, rest = page.split(start, 1)
        page = before + block + rest.split(end, 1)[1]
    else:
        page = page.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
