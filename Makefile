# The two set-up commands of the README live here, so a fresh machine needs nothing by hand.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv quickstart test lint

$(BIN)/hpsearch: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BIN)/hpsearch

venv: $(BIN)/hpsearch

quickstart: venv
	$(BIN)/hpsearch launch studies/quickstart.yaml --workers 2
	rm -rf hpsearch-data/best-quickstart  # the download folder must be new
	$(BIN)/hpsearch best quickstart --out hpsearch-data/best-quickstart

test: venv
	./scripts/system-deps.sh
	$(BIN)/ruff check hpsearch tests benchmarks migrations
	$(BIN)/ruff format --check hpsearch tests benchmarks migrations
	$(BIN)/mypy hpsearch
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check hpsearch tests benchmarks migrations
	$(BIN)/ruff format --check hpsearch tests benchmarks migrations
	$(BIN)/mypy hpsearch
