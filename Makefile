# `make run`: set up and run the whole pipeline on the bundled sample.
# `make test`: set up and run the tests (what CI runs).
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

# Quiet, offline-friendly defaults for the tools taxonomist drives.
export MLFLOW_DISABLE_TELEMETRY ?= true
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?= false
export DVC_NO_ANALYTICS ?= 1
export GX_ANALYTICS_ENABLED ?= false
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run test lint ui clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: setup
	dvc repro
	dvc metrics show

test: setup lint
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/lint-imports

ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --host 127.0.0.1

clean:
	rm -rf data models metrics plots reports mlflow checkpoints .dvc/cache .dvc/tmp dvc.lock
