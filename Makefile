# The two commands of the README: `make serve` and `make test`. Everything installs from this repo's files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= .fngate
LAMBDA_WHEELS := $(VENV)/lambda-wheels

.PHONY: serve test lint typecheck audit fuzz bench install install-dev browser clean

$(VENV)/.run-installed: requirements.txt requirements-server.txt pyproject.toml chalicelib/toolbelt/node/preinstalled/package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -r requirements-server.txt -e .
	@# packages every Node function may require (jsforce), as on LivePerson; no install scripts run
	command -v npm >/dev/null && npm ci --prefix chalicelib/toolbelt/node/preinstalled --ignore-scripts \
		--omit=dev --no-audit --no-fund --loglevel=error || echo "npm not found: Node functions get no preinstalled packages"
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt $(LAMBDA_WHEELS)/.done
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The gateway Lambda's wheels (requirements.txt for python3.11 on Lambda's x86_64 Amazon Linux: glibc 2.17-2.26),
# fetched once so the packaging tests build the real package with no network (`fngate aws package --wheelhouse`).
$(LAMBDA_WHEELS)/.done: requirements.txt
	$(PY) -m pip download -q -r requirements.txt -d $(LAMBDA_WHEELS) --only-binary=:all: --implementation cp \
		--python-version 3.11 $(foreach m,17 18 19 20 21 22 23 24 25 26,--platform manylinux_2_$(m)_x86_64) \
		--platform manylinux2014_x86_64
	touch $@

install: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed

serve: install
	$(VENV)/bin/fngate serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

# Debian's chromium (and fonts) for the web UI's browser tests; Playwright drives it, its own browser download is
# never used. Without it (no apt, not root) the browser tests are skipped and say why.
browser:
	@(command -v chromium >/dev/null && dpkg -s fonts-liberation >/dev/null 2>&1) \
		|| (apt-get update -qq && apt-get install -y -qq chromium fonts-liberation) >/dev/null 2>&1 \
		|| echo "chromium could not be installed: the web UI's browser tests will be skipped"

test: install-dev browser
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q

lint: install-dev
	$(PY) -m ruff check .

typecheck: install-dev
	$(PY) -m mypy

# Schemathesis over every route with each role's token, as in `make test` but with many more examples per route.
FUZZ_EXAMPLES ?= 200
fuzz: install-dev
	FNGATE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q tests/api/test_schema_fuzz.py

# Known vulnerabilities in what ships: the Python requirements (resolved with their dependencies) and the npm
# packages under chalicelib/ (the Toolbelt, the packages preinstalled for Node functions). Fails on a finding; a
# vulnerability service that cannot be reached is reported, not fatal.
audit: install-dev
	$(PY) -m pip_audit -r requirements.txt -r requirements-server.txt --progress-spinner off
	$(PY) .ci/npm_audit.py

# wrk (Debian's package) is the load generator; without it (no apt, not root) the benchmarks fall back to the
# Python load generator and results.md says so.
bench: install-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "wrk could not be installed: using the Python load generator only"
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache
