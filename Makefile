# surgewatch: `make run` (local pipeline on the bundled stream) and `make test` (whole suite) are the two commands.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SW     := $(VENV)/bin/surgewatch
SHARED ?= ../shared

.PHONY: install run demo test test-unit test-integration test-faults eval eval-tagging eval-spikes bench stack-up stack-down clean \
        deploy-check prometheus-local compose-up compose-down

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: install
	$(SW) run --reset

demo: install
	$(SW) demo

stack-up: install
	$(SW) stack up

stack-down: install
	$(SW) stack down

test: install
	bash scripts/test.sh -m "not faults"

test-unit: install
	$(PY) -m pytest -q tests/unit tests/agents

test-integration: install
	$(PY) -m pytest -q -m "integration and not faults" tests/integration

# fault injection (tests/integration/test_faults.py): workers, the broker, Elasticsearch and Alertmanager killed
# mid-stream on a jvm stack of its own, 10,000+ items per scenario; one `FAULT SUMMARY {json}` line per scenario,
# also appended to .surgewatch/faults/summary.jsonl
test-faults: install
	bash scripts/test.sh -s -m faults tests/integration/test_faults.py

eval: eval-tagging eval-spikes

eval-tagging: install
	$(SW) eval tagging --shared-dir $(SHARED)

eval-spikes: install
	$(SW) eval spikes --shared-dir $(SHARED)

bench: install
	$(PY) -m bench

deploy-check: install
	bash scripts/ci_deploy_checks.sh

prometheus-local:
	mkdir -p .surgewatch/prometheus
	prometheus --config.file=deploy/prometheus/prometheus-local.yml --storage.tsdb.path=.surgewatch/prometheus \
	  --web.listen-address=127.0.0.1:9090

compose-up:
	docker compose up -d --build

compose-down:
	docker compose down

clean:
	-$(SW) stack down
	rm -rf .surgewatch .pytest_cache
