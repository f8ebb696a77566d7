# Two commands do everything on a fresh Debian 12 machine (as root):
#   make run   install, prepare the database, load the sample, serve the app
#   make test  the same set-up on a separate test database, then every test

# What the user set, before the defaults: only an unset URL lets the set-up
# start and configure the local server.
GIVEN_DATABASE_URL := $(DATABASE_URL)
GIVEN_TEST_DATABASE_URL := $(TEST_DATABASE_URL)
DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/vung
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/vung_test
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2

.PHONY: run dev test setup bench bench-import bench-export

setup:
	DATABASE_URL=$(DATABASE_URL) DATABASE_URL_GIVEN=$(GIVEN_DATABASE_URL) bash scripts/setup.sh

run: setup
	DATABASE_URL=$(DATABASE_URL) .venv/bin/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) \
		--access-logfile - "app:create_app()"

dev: setup
	DATABASE_URL=$(DATABASE_URL) .venv/bin/flask --app app run --debug --host $(HOST) --port $(PORT)

test:
	DATABASE_URL=$(TEST_DATABASE_URL) DATABASE_URL_GIVEN=$(GIVEN_TEST_DATABASE_URL) WITH_TEST_CLIENTS=1 bash scripts/setup.sh
	DATABASE_URL=$(TEST_DATABASE_URL) VUNG_REQUIRE_ALL=1 .venv/bin/pytest -p no:cacheprovider

bench: setup
	.venv/bin/python bench/items.py $(BENCH_ARGS)

bench-import: setup
	.venv/bin/python bench/imports.py $(BENCH_ARGS)

bench-export: setup
	.venv/bin/python bench/exports.py $(BENCH_ARGS)
