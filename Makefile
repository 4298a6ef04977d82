# The two commands of the README: `make serve` and `make test`. Everything installs from this repo's files.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= .fngate

.PHONY: serve test lint bench install install-dev browser clean

$(VENV)/.run-installed: requirements.txt pyproject.toml chalicelib/toolbelt/node/preinstalled/package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt -e .
	@# packages every Node function may require (jsforce), as on LivePerson; no install scripts run
	command -v npm >/dev/null && npm ci --prefix chalicelib/toolbelt/node/preinstalled --ignore-scripts \
		--omit=dev --no-audit --no-fund --loglevel=error || echo "npm not found: Node functions get no preinstalled packages"
	touch $@

$(VENV)/.dev-installed: $(VENV)/.run-installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
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
	$(PY) -m pytest -q

lint: install-dev
	$(PY) -m ruff check .

# wrk (Debian's package) is the load generator; without it (no apt, not root) the benchmarks fall back to the
# Python load generator and results.md says so.
bench: install-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
		|| echo "wrk could not be installed: using the Python load generator only"
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache
