# The commands the README gives. `make run` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# The local SMTP server that prints the portal's emails during `make run`.
SMTP_PORT ?= 1025
export FLASK_APP := portal

.PHONY: run test test-thorough test-fast lint format translations setup browser-deps magic-deps clean bench bench-cold bench-busy bench-batch bench-deps lighthouse login-timing soak scan scan-deps screenshots cjk-fonts cluster cluster-deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,redis]'
	touch $@

# Compiled catalogues are build output; the .po files in translations/ are the source.
translations/zh_Hans/LC_MESSAGES/messages.mo: translations/zh_Hans/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -d translations

setup: $(VENV)/.installed translations/zh_Hans/LC_MESSAGES/messages.mo

# Beside the web server: a job consumer (mail delivery) and a local SMTP server that prints every email it gets.
run: setup magic-deps
	@$(BIN)/python scripts/check_ports.py $(HOST) "$(PORT):PORT:the web server" "$(SMTP_PORT):SMTP_PORT:the local mail server"
	@mkdir -p instance
	$(BIN)/flask db upgrade
	$(BIN)/flask seed-demo
	@echo "Serving the portal at http://$(HOST):$(PORT); emails are printed here by a local SMTP server on port $(SMTP_PORT)"
	@trap 'kill 0' EXIT INT TERM; \
	$(BIN)/python -m aiosmtpd -n -l 127.0.0.1:$(SMTP_PORT) & \
	MAIL_SMTP_PORT=$(SMTP_PORT) $(BIN)/flask jobs worker --workers 2 & \
	MAIL_SMTP_PORT=$(SMTP_PORT) PORTAL_BASE_URL=http://$(HOST):$(PORT) $(BIN)/flask run --host $(HOST) --port $(PORT)

# Evidence uploads are judged by content with libmagic (Debian's libmagic1, usually already there).
magic-deps:
	@if ! ldconfig -p | grep -q 'libmagic\.so\.1'; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libmagic1; \
		else \
			echo "libmagic is missing: run 'sudo apt-get install -y libmagic1' once."; exit 1; \
		fi; \
	fi

# Browser tests drive Debian's Chromium; evidence checks need libmagic. Installed when missing (root, as on CI).
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! ldconfig -p | grep -q 'libmagic\.so\.1'; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium libmagic1; \
		else \
			echo "Missing system packages: run 'sudo apt-get install -y chromium libmagic1' once, then make test."; exit 1; \
		fi; \
	fi

# The two-server cluster (`make cluster`, tests/test_cluster.py) runs behind Debian's nginx. Installed when missing.
cluster-deps:
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
		if [ "$$(id -u)" = "0" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; \
		else echo "nginx is missing: run 'sudo apt-get install -y nginx' once."; exit 1; fi; \
	fi

# Two app servers behind nginx, sharing PostgreSQL, Redis and an S3 store (SeaweedFS), with two job workers.
cluster: setup magic-deps cluster-deps
	$(BIN)/python scripts/cluster.py

# pytest's exit code 5 means no test ran: that is a failure too, said plainly.
# Two workers (pytest-xdist), a test module staying on one worker so its module fixtures are built once.
TEST_WORKERS ?= 2
test: setup browser-deps cluster-deps
	@$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$status

# The same suite with ten times the Hypothesis examples: before a release, or after changing a rule.
test-thorough: setup browser-deps
	HYPOTHESIS_PROFILE=thorough $(BIN)/pytest -m "not browser"

# Without the browser journeys: quick feedback while working.
test-fast: setup
	$(BIN)/pytest -m "not browser"

# The layers and the absence of import cycles are contracts in pyproject.toml ([tool.importlinter]).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract strings and merge them into the Chinese catalogue; then translate the new entries.
translations: setup
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel compile -d translations

clean:
	rm -rf $(VENV) instance/portal.db* .pytest_cache .ruff_cache .hypothesis

# The benchmark: scale data (built once), gunicorn, wrk at 16 connections; DATABASE_URL picks the database.
bench-deps:
	@if ! command -v wrk >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk; \
		else echo "wrk is missing: run 'sudo apt-get install -y wrk' once."; exit 1; fi; \
	fi

bench: setup magic-deps bench-deps
	$(BIN)/python scripts/bench.py

# The same pages with the page cache off: what a first visit costs (reported, not judged).
bench-cold: setup magic-deps bench-deps
	$(BIN)/python scripts/bench.py --cold

# The same pages while a writer commits for a random dealer once a second: what a busy channel's users get.
bench-busy: setup magic-deps bench-deps
	$(BIN)/python scripts/bench.py --busy

# Two imports of a 1,000,000-line sales CSV and the recompute of the quarter, on a copy of the scale data.
bench-batch: setup magic-deps
	$(BIN)/python scripts/bench_batch.py

# Failed logins for an unknown and a known address: same answer, same time (medians within a tenth).
login-timing: setup magic-deps
	$(BIN)/python scripts/login_timing.py

# Ten minutes of mixed traffic from every role at 16 connections: no errors, no lost drafts, steady memory.
soak: setup magic-deps
	$(BIN)/python scripts/soak.py

# The scanners live in a venv of their own: wapiti pins its own versions of common libraries. wapiti stays below
# 3.3, the series this was built and checked with; the scan names its modules (the default set reaches outside hosts).
SCAN_VENV := .scan-venv
$(SCAN_VENV)/.installed:
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet "wapiti3>=3.2,<3.3" "sqlmap>=1.8" "bandit>=1.7.9"
	touch $@

scan-deps: $(SCAN_VENV)/.installed

# wapiti (13 modules) and sqlmap against the portal over HTTPS on loopback, as a dealer and as a manager; bandit
# on the source. About 40 minutes on 2 cores; exits 1 on an unexplained finding of medium or higher.
scan: setup magic-deps scan-deps
	@command -v openssl >/dev/null || { echo "openssl is needed for the scan's throwaway certificate"; exit 1; }
	$(BIN)/python scripts/scan.py

# Lighthouse 12.2.3 (npm) in Debian's Chromium: performance >= 0.95 and accessibility 1.0 on three pages.
lighthouse: setup magic-deps browser-deps
	$(BIN)/python scripts/lighthouse.py

# The main pages of every role at 375 and 1280 px in English and Chinese, into instance/screenshots/.
screenshots: setup magic-deps browser-deps cjk-fonts
	$(BIN)/python scripts/screenshots.py

# Chinese glyphs for the screenshots (the tests do not need them: they read text, not pixels).
cjk-fonts:
	@if ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		if [ "$$(id -u)" = "0" ]; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-noto-cjk; \
		else \
			echo "Missing Chinese fonts: run 'sudo apt-get install -y fonts-noto-cjk' once, then make screenshots."; exit 1; \
		fi; \
	fi
