# Two commands do all the set-up: `make run` (embedded default) and `make test` (MariaDB + Redis).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_DATABASE_URL ?= mysql://root@127.0.0.1:3306/coupons
TEST_REDIS_URL ?= redis://127.0.0.1:6379/1

.PHONY: run test lint format install install-dev migrate seed messages bench bench-readme clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Embedded default: only the runtime requirements (no MySQL client library needed).
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-mysql.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py migrate --noinput -v 0
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py seed_demo
	HOST=$(HOST) PORT=$(PORT) bash bin/run-embedded

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/python -m pytest --create-db -q -p no:randomly

messages: install-dev
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py makemessages -l zh_Hans -l en --no-obsolete \
		--ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'
	DJANGO_SETTINGS_MODULE=config.settings.local $(BIN)/python manage.py compilemessages --ignore '.venv/*'

# Every benchmark (MariaDB and Redis on loopback, databases coupons_bench*), one table, bench/results.json.
# BENCH_SCALE=0.05 for a quick run; `make bench-readme` then writes the README's table from the results.
bench: install-dev
	$(BIN)/python bench/run_all.py

bench-readme:
	$(BIN)/python bench/readme_table.py

clean:
	rm -rf var db.sqlite3
