# Two commands on a fresh machine: `make run` and `make test`. Both create .venv if missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,dask,sensitivity]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/suanli catalog list
	$(BIN)/suanli order
	$(BIN)/suanli compare --workload train-llama3-70b --reference h200-sxm:80000 \
	    --accelerators h200-sxm,ascend-910c,ascend-910b,mlu590,kunlunxin-p800,hygon-k100,metax-c500
	$(BIN)/suanli analyze h200-china-2026-update

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .benchmarks
