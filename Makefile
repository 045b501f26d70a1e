# schoolpoort: `make demo` and `make test` each set up .venv when missing, then run.
# `make notebooks` runs the research notebooks on the evaluation in $(WS) (after `make demo`).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WS     ?= workspace
# The tests run in this many processes; the tests on the simulated board stay in one of them.
TEST_WORKERS ?= 2

export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export MPLBACKEND := Agg
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: setup demo notebooks test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python >= 3.11 is needed; set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "uv>=0.5"
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/schoolpoort demo --workspace $(WS)

# Each notebook (jupytext percent script) becomes WS/notebooks/<name>.ipynb, run with its outputs.
notebooks: $(STAMP)
	@ls $(WS)/evaluation/until=*/report.md >/dev/null 2>&1 || { echo "error: no evaluation in $(WS) (run: make demo, or schoolpoort evaluate --workspace $(WS))"; exit 1; }
	mkdir -p $(WS)/notebooks
	for nb in notebooks/*.py; do \
	  out=$(WS)/notebooks/$$(basename $$nb .py).ipynb; \
	  $(BIN)/jupytext --quiet --to ipynb --output $$out $$nb && \
	  SCHOOLPOORT_WORKSPACE=$(abspath $(WS)) $(BIN)/jupyter-execute --inplace --timeout=600 $$out || exit 1; \
	done

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --numprocesses $(TEST_WORKERS) --dist loadgroup

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(WS) .pytest_cache .ruff_cache .mypy_cache .hypothesis
