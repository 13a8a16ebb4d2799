#!/usr/bin/env bash
# Set up everything the project needs on a fresh Debian machine: missing Debian packages, the .venv virtual
# environment, PyTorch and the package with its test extras. Safe to run again: it only does what is missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PYTHON_BIN="${PYTHON:-python3}"
# CPU users get the build that installs offline here; GPU users: see docs/installation.md (TORCH_SPEC).
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
# CLIP_benchmark (the agreement test): without its dependencies, which pull torchvision and open_clip_torch, and
# torchvision does not import beside the CPU torch. Its metric code needs only torch, tqdm and scikit-learn.
CLIP_BENCHMARK_SPEC="clip-benchmark==1.6.2"
# Extra packages for a second environment (space separated), e.g. the benchmark peers: see `make bench-env`.
EXTRA_SPECS="${EXTRA_SPECS:-}"

install_debian_packages() {
    local wanted missing=()
    wanted="$(grep -v '^\s*#' "$ROOT/packages.apt" | tr -s ' \n' ' ' || true)"
    for package in $wanted; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return
    fi
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

create_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "bootstrap: creating $VENV"
        "$PYTHON_BIN" -m venv "$VENV"
        "$VENV/bin/python" -m pip install -q --upgrade pip
    fi
}

install_python_packages() {
    # Re-install only when the dependency declaration changed since the last successful install.
    local stamp="$VENV/.growclip-installed" digest
    digest="$(cat pyproject.toml packages.apt | sha256sum | cut -d' ' -f1)-$TORCH_SPEC-$CLIP_BENCHMARK_SPEC-$EXTRA_SPECS"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return
    fi
    if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
        echo "bootstrap: installing $TORCH_SPEC"
        # shellcheck disable=SC2086  # TORCH_SPEC may name torchvision too
        "$VENV/bin/python" -m pip install -q $TORCH_SPEC
    fi
    echo "bootstrap: installing growclip-hf and its test extras"
    "$VENV/bin/python" -m pip install -q -e ".[test]"
    "$VENV/bin/python" -m pip install -q --no-deps "$CLIP_BENCHMARK_SPEC"
    if [ -n "$EXTRA_SPECS" ]; then
        # shellcheck disable=SC2086
        "$VENV/bin/python" -m pip install -q $EXTRA_SPECS
    fi
    echo "$digest" > "$stamp"
}

install_debian_packages
create_venv
install_python_packages
