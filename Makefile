# Zicht's everyday commands. `make run` and `make test` are the README's two commands.
.PHONY: setup lint typecheck imports docs schemas check test test-fast run bench clean

export UV_PYTHON_DOWNLOADS := never

# `make run` draws a live view on the terminal: with output sync (-O, e.g. from MAKEFLAGS and
# -j) make would collect its output in a file and the view would fall back to summary lines.
ifneq ($(filter run,$(MAKECMDGOALS)),)
MAKEFLAGS += --output-sync=none
endif
UV := uv run --frozen

setup:            ## install uv, PostgreSQL when missing, and the workspace
	scripts/bootstrap.sh

lint: setup       ## ruff lint and format check
	$(UV) ruff check .
	$(UV) ruff format --check .

typecheck: setup  ## mypy, strict, with the pydantic plugin
	$(UV) mypy

imports: setup    ## import-linter contracts
	$(UV) lint-imports

docs: setup          ## regenerate docs/openapi/ (each service's OpenAPI document)
	$(UV) python scripts/openapi.py

schemas: setup    ## regenerate schemas/json from the models
	$(UV) python -m zicht_schemas.export

check: lint typecheck imports  ## everything static, plus schema compatibility
	$(UV) python -m zicht_schemas.compat

test:             ## the whole suite: lint, types, contracts, schemas, all tests
	scripts/test.sh

test-fast: setup  ## unit and in-memory tests only
	$(UV) pytest -m "not connected"

run: setup        ## run Zicht on one machine: broker, Postgres, four services, demo region
	$(UV) python -m zicht_devtools.stack run $(ARGS)

bench: setup      ## benchmarks (not tests); results in bench/results/
	$(UV) python -m bench

clean:
	rm -rf .zicht .pytest_cache .mypy_cache .ruff_cache
