# The two commands of the README: `make run` (main job) and `make test` (whole test suite).
# Both set up everything first (Debian packages, .venv, PyTorch, the package) through scripts/bootstrap.sh.
VENV := .venv
PY := $(VENV)/bin/python
OFFLINE := HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False

.PHONY: setup run test test-large lint format bench-env bench-throughput bench-growth bench-real-sizes

setup:
	./scripts/bootstrap.sh

# The benchmarks' own environment: open_clip needs torchvision, which imports only beside torch 2.14.1 (a CUDA build
# that runs on the CPU; 5.5 GB, taken from local disk here). All three peers then run in one process on one torch.
BENCH_VENV := .venv-bench
bench-env:
	./scripts/bootstrap.sh
	VENV=$(CURDIR)/$(BENCH_VENV) TORCH_SPEC="torch==2.14.1 torchvision==0.29.1" EXTRA_SPECS="open_clip_torch==3.3.0" \
		./scripts/bootstrap.sh

# The two scripts that write docs/benchmarks.md (see the page for what each measures and how long it takes).
bench-throughput: bench-env
	$(OFFLINE) $(BENCH_VENV)/bin/python benchmarks/throughput.py --profile --compile --fused-qkv --doc docs/benchmarks.md

bench-growth: setup
	$(OFFLINE) $(PY) benchmarks/growth_efficiency.py --seeds 0 1 2 --epochs 2 --doc docs/benchmarks.md \
		--section growth-efficiency-cpu --title "Growth efficiency on 2 CPU cores" --notes docs/growth_efficiency_cpu_notes.md

# Memory, step time, search and checkpoint figures at ViT-B/32, ViT-B/16 and ViT-L/14 sizes ("Real sizes").
bench-real-sizes: setup
	$(OFFLINE) $(PY) benchmarks/real_sizes.py --doc docs/benchmarks.md

run: setup
	$(OFFLINE) $(VENV)/bin/growclip-hf run --scale default --output-dir outputs/run --resume

test: setup lint
	$(OFFLINE) $(PY) -m pytest -q

# The real-size tier: ViT-B/32 and ViT-B/16 shapes converted, grown, continued, killed and resumed, published
# (pytest marker `large`, left out of `make test`; 6-32 minutes on 2 cores depending on load, about 5 GB of memory).
test-large: setup
	$(OFFLINE) $(PY) -m pytest -q -m large -s

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

format:
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Mutation testing of the continual strategies and the contrastive objective (scripts/mutation.py; docs/development.md).
.PHONY: mutation
mutation: setup
	$(OFFLINE) $(PY) scripts/mutation.py
