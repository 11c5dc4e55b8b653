# Everything sets itself up: a fresh clone needs only Python 3.11 and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint format bench image lock clean

EMULATE_GCP ?=
RUN_EXTRAS  := $(if $(EMULATE_GCP),emulator,local)

# uv reads uv.lock; the version pyproject.toml requires is installed into the venv first.
UV_VERSION := $(shell sed -n 's/^required-version = "==\(.*\)"/\1/p' pyproject.toml)
EXPORT     := $(BIN)/uv export --frozen --quiet --format requirements.txt --no-emit-project --no-annotate

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

lock: $(BIN)/uv                      ## after a change of dependencies in pyproject.toml
	$(BIN)/uv lock
	$(EXPORT) --extra function > functions/requirements.txt
	$(EXPORT) --only-group training-job > training/image/requirements.txt

$(BIN)/uv: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	touch $@

# Exactly the versions and files uv.lock names (--locked: stop if it is stale), then the
# project itself.
$(VENV)/.installed-%: pyproject.toml uv.lock $(BIN)/uv
	$(subst --frozen,--locked,$(EXPORT)) --extra $* > $(VENV)/requirements-$*.txt
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps --requirement $(VENV)/requirements-$*.txt
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	touch $@

clean:
	rm -rf $(VENV) .diamonds .pytest_cache .ruff_cache
