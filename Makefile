# `make run`: set up and run the whole pipeline on the bundled sample.
# `make test`: set up and run the tests (what CI runs).
# `make docs`: build the manual into site/; `make docs-serve`: serve it on 127.0.0.1.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

# Quiet, offline-friendly defaults for the tools taxonomist drives.
export MLFLOW_DISABLE_TELEMETRY ?= true
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?= false
export DVC_NO_ANALYTICS ?= 1
export GX_ANALYTICS_ENABLED ?= false
export NO_MKDOCS_2_WARNING ?= 1
export PATH := $(abspath $(BIN)):$(PATH)

UI_PORT ?= 5000
# MLflow 3's UI opens in its GenAI view, which hides the model registry; this asks for
# the model-training view (runs, models, the registry).
UI_VIEW := workflowType=machine_learning

.PHONY: setup run next test lint docs docs-serve audit mutation ui clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

run: setup
	dvc repro
	dvc metrics show
	@$(MAKE) --no-print-directory next

# What to look at after a run, and what to commit.
next:
	@echo ""
	@echo "Next, look at:"
	@echo "  make ui                        the MLflow UI: runs, the registry, @live, each version's card"
	@echo "  reports/model_card.html        the model card (model_card.pdf beside it; reports/live/ is @live's)"
	@echo "  reports/data/docs/index.html   the data checks, every suite and its result"
	@echo "  dvc metrics show               the headline metrics again; dvc plots show draws the plots"
	@echo "Then commit the run, so the next dvc metrics diff / dvc plots diff compares with it:"
	@echo "  git add dvc.lock metrics plots && git commit -m 'Run the pipeline'"

# The slow tests (real `dvc repro`s, servers) wait on subprocesses much of the time, so
# they run beside the others in two shards, one pytest each in its own temp folder: the
# first holds the modules that run a whole tiny pipeline and those of the detect stage
# (about half the slow time).
# All three must pass.
SLOW_FIRST := tests/integration/test_dvc_repro.py tests/integration/test_detect_repro.py \
	tests/data/test_detect.py tests/data/test_cropping.py tests/train/test_detected_boxes.py \
	tests/serve/test_detector_crop.py tests/faults
TEST_TMP ?= $(or $(TMPDIR),/tmp)/taxonomist-tests
test: setup lint docs
	@mkdir -p $(TEST_TMP)
	@echo "slow tests run alongside; their logs: $(TEST_TMP)/slow-1.log, $(TEST_TMP)/slow-2.log"
	@$(BIN)/pytest -m slow --durations=10 --basetemp=$(TEST_TMP)/slow-1 $(SLOW_FIRST) \
		> $(TEST_TMP)/slow-1.log 2>&1 & one=$$!; \
	$(BIN)/pytest -m slow --durations=10 --basetemp=$(TEST_TMP)/slow-2 \
		$(addprefix --ignore=,$(SLOW_FIRST)) > $(TEST_TMP)/slow-2.log 2>&1 & two=$$!; \
	$(BIN)/pytest -m "not slow" --basetemp=$(TEST_TMP)/fast; fast=$$?; \
	wait $$one; one=$$?; wait $$two; two=$$?; \
	for shard in 1 2; do echo "--- slow tests, shard $$shard ($(TEST_TMP)/slow-$$shard.log):"; \
		tail -n 40 $(TEST_TMP)/slow-$$shard.log; done; \
	test $$fast -eq 0 && test $$one -eq 0 && test $$two -eq 0

lint: setup
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/lint-imports

# Mutation testing of the promotion gate and lock ([tool.mutmut] in pyproject.toml): it
# runs the tests once per mutant, so it takes long. Then `mutmut results` lists the
# survivors and `mutmut show NAME` shows one; copies and verdicts live in mutants/.
MUTATION_JOBS ?= 1
mutation: setup
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS)

# The manual (mkdocs.yml): strict, so a broken link or anchor fails the build.
DOCS_PORT ?= 8000
docs: setup
	$(BIN)/mkdocs build --strict --site-dir site

docs-serve: setup
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

# Known-vulnerable packages in the installed environment (pip-audit, which asks PyPI's
# vulnerability data): bench/results/audit.json, dated. Fails on a vulnerable package, and
# when some package could not be looked up (pip-audit alone calls that clean).
audit: setup
	$(BIN)/python -m bench.audit

ui: setup
	@echo "MLflow UI: open http://127.0.0.1:$(UI_PORT)/#/models?$(UI_VIEW)"
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --host 127.0.0.1 --port $(UI_PORT)

clean:
	rm -rf data models metrics plots reports mlflow checkpoints dvc_plots .dvc/cache .dvc/tmp dvc.lock
