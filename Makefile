# The two commands: `make run` (local stack) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGE := build/package/sam.json
# What goes into the deployable template and bundle: rebuild only when one changes.
PACKAGE_SOURCES := app.py requirements.txt .chalice/config.json $(wildcard infrastructure/*) \
	$(shell find chalicelib -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: run test lint typecheck unit integration reliability setup bench clean package lint-infra train train-check

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP)

# make run PORT=8100 AWS_PORT=4699 runs a second stack beside the first (or set
# SUPPORT_INTAKE_LOCAL=8100:4699, which every command reads).
run: $(STAMP)
	$(BIN)/python -m chalicelib dev $(if $(PORT),--port $(PORT)) $(if $(AWS_PORT),--aws-port $(AWS_PORT))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Unit tests need no AWS (fakes only); contract, integration and local tests run on moto,
# the packaged template and a local stack.
unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile tests/contract tests/integration tests/infrastructure \
		tests/reliability tests/local

# Every reliability scenario in full (redelivery, faults, races, authorization, hostile
# HTTP, load) as one table; `make test` runs a short form of each.
reliability: $(STAMP)
	POWERTOOLS_METRICS_DISABLED=true $(BIN)/python -m tests.reliability

test: lint typecheck lint-infra train-check $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The deployable template: Chalice's resources merged with infrastructure/resources.json.
# aws-xray-sdk is vendored without its botocore dependency (the Lambda runtime has it).
$(PACKAGE): $(STAMP) $(PACKAGE_SOURCES)
	rm -rf build/package vendor .chalice/deployments
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --target vendor aws-xray-sdk==2.15.0
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-eu-central-1} $(BIN)/chalice package --stage prod \
		--merge-template infrastructure/resources.json build/package
	$(BIN)/python infrastructure/finalize.py build/package/sam.json
	rm -rf vendor

package: $(PACKAGE)

lint-infra: $(PACKAGE)
	$(BIN)/cfn-lint $(PACKAGE)

# The classifier's labelled requests rebuilt from tests/data/classify/written/ and the
# shared corpus's writers, then its learned part fitted on the training part
# (chalicelib/classify/model.json).
train: $(STAMP)
	$(BIN)/python -m devtools.classify_data
	$(BIN)/python -m devtools.train_classifier

# The committed training data and weights are what `make train` rebuilds from the written
# requests, and leave-one-writer-out still meets issue 30's targets (at least 0.90 on
# every writer, above the n-gram baseline): fits take about 20 s, so this is its own
# step of `make test`, not part of `make unit`.
train-check: $(STAMP)
	$(BIN)/python -m devtools.classify_data --check
	$(BIN)/python -m devtools.train_classifier --check

bench: package
	$(BIN)/python bench/classify_bench.py
	$(BIN)/python bench/mail_corpus_check.py
	$(BIN)/python bench/mail_bench.py
	$(BIN)/python bench/coldstart_bench.py
	$(BIN)/python bench/sweep_bench.py
	$(BIN)/python bench/queue_bench.py
	$(BIN)/python bench/report_bench.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache build vendor .chalice/deployments
