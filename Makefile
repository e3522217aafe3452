# The two commands that matter: `make serve` and `make test`. Both set everything up.
VENV     ?= .venv
PYTHON   ?= python3
PORT     ?= 8000
DATA_DIR ?= var
BIN       = $(VENV)/bin

.PHONY: serve test check lint typecheck bench bench-scale system-deps test-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstalled whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[postgres]'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[postgres,test]'
	touch $@

system-deps:
	@bash scripts/system-deps.sh libmagic1 postgresql

# The web UI's browser tests drive Debian's chromium (Playwright never downloads one);
# one fixed font keeps the README's screenshot the same on every machine. The
# X-Accel-Redirect delivery tests start Debian's nginx-light on 127.0.0.1.
test-deps:
	@bash scripts/system-deps.sh chromium fonts-dejavu-core nginx-light

serve: system-deps $(VENV)/.installed
	$(BIN)/assetry migrate --data-dir $(DATA_DIR)
	$(BIN)/assetry serve --host 127.0.0.1 --port $(PORT) --data-dir $(DATA_DIR)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: system-deps test-deps $(VENV)/.installed-test lint typecheck
	$(BIN)/pytest

bench: $(VENV)/.installed-test
	@bash scripts/system-deps.sh wrk nginx-light
	$(BIN)/python bench/bench_render.py
	$(BIN)/python bench/bench_formats.py
	$(BIN)/python bench/bench_placeholder.py
	$(BIN)/python bench/bench_delivery.py
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_load.py

# Metadata at 10,000 and 1,000,000 assets on SQLite and PostgreSQL (13 minutes on the 2-core
# machine, more when it is busy); not part of `make test` or `make bench`.
bench-scale: system-deps $(VENV)/.installed-test
	$(BIN)/python bench/bench_scale.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
