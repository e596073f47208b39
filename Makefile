# The commands a contributor runs before CI does (CI runs .ci/run: the same steps on a
# clean clone). `make help` lists them.
.PHONY: help lint format typing test test-all deps up up-infra down

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

lint:  ## ruff (lint and format check) and the lock file
	uv lock --check
	uv run ruff check .
	uv run ruff format --check .

format:  ## ruff fixes and formats in place
	uv run ruff check --fix .
	uv run ruff format .

typing:  ## mypy (strict on contracts, platform and every domain package)
	uv run mypy

deps:  ## each service installed alone imports every one of its modules
	scripts/check-service-deps.sh

test:  ## unit tests only (no servers)
	uv run pytest -m unit -q

test-all: up-infra  ## every test, on the local Kafka and database
	uv run pytest

up:  ## the whole platform, as the README runs it
	uv run phananh up

up-infra:
	uv run phananh up --infra-only

down:  ## stop everything phananh up started
	uv run phananh down
