# The two commands a user needs: `make run` and `make test`. Both set everything up on a fresh
# machine (only Python 3.10+ needed) and are fast the second time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_STAMP := $(VENV)/.model

.PHONY: run test test-fast lint install model clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $@

# Builds the offline default embedding model into the user cache (once; verified).
model: install
	$(BIN)/hoidap model build

run: model
	$(BIN)/hoidap ingest data/sample
	$(BIN)/hoidap stats

test: model
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
