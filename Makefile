# The two commands of the README: `make run` (main job) and `make test` (whole test suite).
# Both set up everything first (Debian packages, .venv, PyTorch, the package) through scripts/bootstrap.sh.
VENV := .venv
PY := $(VENV)/bin/python
OFFLINE := HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False

.PHONY: setup run test lint format

setup:
	./scripts/bootstrap.sh

run: setup
	$(OFFLINE) $(VENV)/bin/growclip-hf run --scale default --output-dir outputs/run --resume

test: setup lint
	$(OFFLINE) $(PY) -m pytest -q

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format:
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .
