# Two entry points (see README): `make run` serves the hooks, `make test` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run dev test deps lint unit controlplane goreplay image e2e bench generate

$(BIN)/aihooks: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/aihooks
	$(BIN)/aihooks serve --host 127.0.0.1 --port 8080

dev: $(BIN)/aihooks
	$(BIN)/aihooks dev

lint: $(BIN)/aihooks
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy hooks

unit: $(BIN)/aihooks goreplay
	$(BIN)/pytest tests --ignore=tests/e2e

controlplane:
	tools/controlplane/build.sh

# The image from the Dockerfile, without Docker (tools/image/build.sh); the e2e
# suite builds and runs it too (tests/e2e/test_image.py).
image:
	tools/image/build.sh

# The traffic-capture sidecar of an MLOps Model, run for real by tests/unit/mlops.
goreplay:
	tools/goreplay/build.sh

e2e: $(BIN)/aihooks controlplane
	$(BIN)/pytest tests/e2e

deps:
	tools/debian-deps.sh

test: deps lint unit e2e

generate: $(BIN)/aihooks
	$(BIN)/aihooks crds
	$(BIN)/aihooks controllers

bench: $(BIN)/aihooks
	$(BIN)/python bench/hooks_http.py
