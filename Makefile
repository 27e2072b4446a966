# `make run` and `make test` do all set-up themselves, on a fresh machine too:
# Debian packages, the virtual environment, migrations, demo data.
SHELL := /bin/bash
.DEFAULT_GOAL := run

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Pango for WeasyPrint, poppler-utils for pdfsig/pdftotext, sqlite3 for inspection,
# chromium for browser tests and the print-to-PDF comparison in `make bench`.
DEB_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 poppler-utils sqlite3 chromium
TEST_DATABASE_URL ?=
# Tests run in parallel, one process per core (pytest-xdist); TEST_WORKERS=0 runs them
# in this process, e.g. to use a debugger. Work-stealing keeps both workers busy to the
# end (a few browser and crash tests take 10-30 s each).
TEST_WORKERS ?= auto

.PHONY: run test bench fuzz lint setup system-deps clean

system-deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "Python 3.11 is required (found $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: system-deps $(STAMP)

run: setup
	$(BIN)/compliance migrate
	$(BIN)/compliance demo --if-empty
	exec $(BIN)/compliance run

test: setup
	$(BIN)/ruff check compliance tests bench
	TEST_ENGINE=sqlite $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal
	@if [ -n "$(TEST_DATABASE_URL)" ]; then \
	  echo "--- again on PostgreSQL ($(TEST_DATABASE_URL)) ---"; \
	  TEST_ENGINE=postgres TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal -m "db and not browser"; \
	fi

bench: setup
	$(BIN)/python -m bench

# The long schemathesis run, not part of `make test`: at least 10,000 requests, signed
# in and not, against a real server; prints the count, the time and any 5xx.
FUZZ := FUZZ_EXAMPLES=45 FUZZ_MIN_CASES=10000 $(BIN)/pytest -p no:cacheprovider -s -q \
	tests/system/test_api_fuzz.py -k answers_as_documented
fuzz: setup
	TEST_ENGINE=sqlite $(FUZZ)
	@if [ -n "$(TEST_DATABASE_URL)" ]; then \
	  echo "--- again on PostgreSQL ($(TEST_DATABASE_URL)) ---"; \
	  TEST_ENGINE=postgres TEST_DATABASE_URL="$(TEST_DATABASE_URL)" $(FUZZ); \
	fi

lint: setup
	$(BIN)/ruff check compliance tests bench
	$(BIN)/ruff format --check compliance tests bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
