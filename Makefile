# Everything sets itself up: a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint format bench image clean

EMULATE_GCP ?=
RUN_EXTRAS  := $(if $(EMULATE_GCP),emulator,local)

run: $(VENV)/.installed-$(RUN_EXTRAS) ## the whole local stack (EMULATE_GCP=1: GCS emulator + PostgreSQL)
	$(BIN)/diamonds serve $(if $(EMULATE_GCP),--emulate-gcp)

test: $(VENV)/.installed-dev          ## the full test suite
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(VENV)/.installed-dev        ## the figures: accuracy on the customer's file
	$(BIN)/python benchmarks/accuracy.py ../shared/data/diamonds.csv

image:                               ## the training image, with buildah (training/image/build.sh)
	training/image/build.sh $(IMAGE)

$(VENV)/.installed-%: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	touch $@

clean:
	rm -rf $(VENV) .diamonds .pytest_cache .ruff_cache
