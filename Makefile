# Two entry points: `make run` (the demo) and `make test` (every check CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
RUN_STAMP := $(VENV)/.stamp-run
DEV_STAMP := $(VENV)/.stamp-dev
INSTALL_INPUTS := pyproject.toml constraints.txt

.PHONY: run test check lint typecheck imports pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(RUN_STAMP): $(BIN)/python $(INSTALL_INPUTS)
	$(PIP) install -q -c constraints.txt -e '.[sklearn,xgboost,lightgbm,onnx]'
	touch $@

$(DEV_STAMP): $(BIN)/python $(INSTALL_INPUTS)
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@ $(RUN_STAMP)

# The demo in the foreground until Ctrl-C; e.g. make run DEMO_ARGS="--gateway-port 9090".
run: $(RUN_STAMP)
	$(BIN)/python -m mlservice.demo $(DEMO_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/ruff check src tests bench scripts

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

imports: $(DEV_STAMP)
	$(BIN)/lint-imports

pytest: $(DEV_STAMP)
	$(BIN)/pytest

test: lint typecheck imports pytest

clean:
	rm -rf $(VENV)
