# Two entry points: `make run` (the demo) and `make test` (every check CI runs).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
RUN_STAMP := $(VENV)/.stamp-run
DEV_STAMP := $(VENV)/.stamp-dev
INSTALL_INPUTS := pyproject.toml constraints.txt
# KServe's SDK pins kubernetes<37; its tests drive a real `mls up` from this venv of its own.
KSERVE_VENV := .venv-kserve
KSERVE_STAMP := $(KSERVE_VENV)/.stamp

.PHONY: run test check lint typecheck imports pytest java chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(RUN_STAMP): $(BIN)/python $(INSTALL_INPUTS)
	$(PIP) install -q -c constraints.txt -e '.[sklearn,xgboost,lightgbm,onnx]'
	touch $@

$(DEV_STAMP): $(BIN)/python $(INSTALL_INPUTS)
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@ $(RUN_STAMP)

$(KSERVE_STAMP): constraints-kserve.txt
	$(PYTHON) -m venv $(KSERVE_VENV)
	$(KSERVE_VENV)/bin/python -m pip install -q --upgrade pip
	$(KSERVE_VENV)/bin/python -m pip install -q -c constraints-kserve.txt kserve==0.21.0 'kubernetes<37'
	touch $@

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

# The real TorchServe (runtime torchserve-java) needs a JVM: Debian's JDK 17 runtime, installed
# when missing if apt-get can (as root); else its tests skip, saying why (and fail when CI is set).
java:
	@if command -v java >/dev/null; then java -version 2>&1 | head -1; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && apt-get install -y -q --no-install-recommends openjdk-17-jre-headless; \
	else echo "java: not found, and openjdk-17-jre-headless needs root and apt-get to install;" \
		"the real-TorchServe tests skip (and fail when CI is set)"; fi

# The console's browser tests drive Debian's chromium (tests/console/browser.py): installed
# here when missing and we are root; otherwise those tests skip saying why (fail when CI=true).
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] \
		&& apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; } \
		|| echo "chromium: not found and not root; the console's browser tests skip (and fail when CI is set)"

# kubectl ships with this project's machine image (Debian's kubernetes-client is too old for
# kubectl 1.32's discovery): checked and named here, not installed (tests/support/kubectl.py).
pytest: $(DEV_STAMP) $(KSERVE_STAMP) java chromium
	@command -v kubectl >/dev/null && kubectl version --client 2>/dev/null | head -1 \
		|| echo "kubectl: not found; the kubectl tests skip (and fail when CI is set)"
	$(BIN)/pytest

test: lint typecheck imports pytest

clean:
	rm -rf $(VENV) $(KSERVE_VENV)
