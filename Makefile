# Everything a developer or CI runs. `make demo` and `make test` work on a fresh machine:
# they create the virtualenv, install the project and fetch the Kafka jars on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CORPUS ?= ../shared/samples
STATE ?= .state
PYTEST_ARGS ?=

.PHONY: help install kafka-fetch kafka-up kafka-down standin demo test test-fast test-all lint format clean schemas-check bench chaos

help:
	@echo "make demo [CORPUS=dir]  run the whole pipeline on a corpus and check expected.json"
	@echo "make test               unit + integration tests (real Kafka, Odoo stand-in over HTTP)"
	@echo "make test-fast          unit tests only"
	@echo "make test-all           everything, including tests marked slow"
	@echo "make kafka-up / kafka-down   a local broker under $(STATE)/kafka for manual work"
	@echo "make lint / format      ruff"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

kafka-fetch: install
	$(PY) -m devstack.local_kafka fetch

kafka-up: kafka-fetch
	$(PY) -m devstack.local_kafka start --data-dir $(STATE)/kafka

kafka-down: install
	$(PY) -m devstack.local_kafka stop --data-dir $(STATE)/kafka

demo: kafka-fetch
	$(PY) -m pipeline.cli demo --corpus $(CORPUS) --state-dir $(STATE)/demo

test: kafka-fetch
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-fast: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-all: kafka-fetch
	$(PY) -m pytest $(PYTEST_ARGS)

# Refuse a schema change that breaks its compatibility mode (against SCHEMAS_AGAINST).
SCHEMAS_AGAINST ?= HEAD
schemas-check: install
	$(PY) -m pipeline.cli schemas check --against $(SCHEMAS_AGAINST)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(STATE) .pytest_cache .ruff_cache

# Benchmarks against raw-client baselines; appends a dated section to docs/benchmarks.md.
BENCH_EVENTS ?= 5000
bench: kafka-fetch
	$(PY) -m pip install --quiet pyinstrument
	$(PY) -m benchmarks --events $(BENCH_EVENTS) --state-dir $(STATE)/bench

# Fault injection with the load generator's expected.json as the oracle (docs/chaos.md).
CHAOS_EVENTS ?= 10000
CHAOS_KILLS ?= 20
CHAOS_SCENARIOS ?= process-kills,broker-restart,odoo-down,odoo-errors
chaos: kafka-fetch
	$(PY) -m chaos --events $(CHAOS_EVENTS) --kills $(CHAOS_KILLS) --bad-rate 0.01 \
		--scenarios $(CHAOS_SCENARIOS) --state-dir $(STATE)/chaos
