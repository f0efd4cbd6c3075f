# Two commands do all set-up on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The instance: SQLite in dagster_home/ unless DAGSTER_HOME says otherwise (deploy/postgres: docs/DEPLOY.md).
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
export DAGSTER_DISABLE_TELEMETRY := 1
export GX_ANALYTICS_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test fuzz ui sample lint bench clean chromium postgres redis

$(BIN)/.installed: pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or make PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, exactly this version: the CPU wheel is local; any other pin downloads GBs.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -c requirements.lock -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

sample: setup
	$(BIN)/python -m shopinsight_pipeline.sample --root data

run: setup
	$(BIN)/python -m shopinsight_pipeline.run_sample --root data

test: setup chromium postgres redis
	$(BIN)/python -m pytest -q

# The landing fuzz harness with many more generated files than make test runs (minutes).
fuzz: setup
	SHOPINSIGHT_FUZZ_PROFILE=fuzz $(BIN)/python -m pytest -q shopinsight_pipeline_tests/ingest/test_fuzz.py

# The browser end-to-end test drives Debian's chromium; install it when missing and we are root.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } \
		|| echo "chromium is not installed and cannot be installed here: the browser test will be skipped"

# The PostgreSQL instance test starts a real server from Debian's postgresql; install it when missing and we are root.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) ; } \
		|| echo "PostgreSQL is not installed and cannot be installed here: the PostgreSQL instance test will be skipped"

# The Celery executor test brokers through Debian's redis-server; install it when missing and we are root.
redis:
	@command -v redis-server >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) ; } \
		|| echo "redis-server is not installed and cannot be installed here: the Celery executor test will be skipped"

# The UI and the daemon (schedules, sensors, the run queue, backfills) on 127.0.0.1:$(PORT). The
# embedded sample's history ends on its last day (SHOPINSIGHT_END_DATE=, empty, opens it: new days).
PORT ?= 3000
SAMPLE_LAST_DAY = $$($(BIN)/python -c 'from shopinsight_pipeline.calendar import SAMPLE_LAST_DAY; print(SAMPLE_LAST_DAY)')
ui: setup
	SHOPINSIGHT_END_DATE=$${SHOPINSIGHT_END_DATE-$(SAMPLE_LAST_DAY)} $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(PORT)

# Style, formatting and types; CI runs it before the tests.
lint: setup
	$(BIN)/ruff check shopinsight_pipeline shopinsight_pipeline_tests bench
	$(BIN)/ruff format --check shopinsight_pipeline shopinsight_pipeline_tests bench
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/tokenize_shards.py
	$(BIN)/python bench/train.py
	$(BIN)/python bench/score.py
	$(BIN)/python bench/incremental.py
	$(BIN)/python bench/recommend_train.py
	$(BIN)/python bench/recommend_score.py
	$(BIN)/python bench/object_store.py

clean:
	rm -rf data/lake .dagster
	find dagster_home -mindepth 1 -not -name dagster.yaml -delete
