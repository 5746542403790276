#!/usr/bin/env bash
# The whole check: lint, types, import contracts, schema compatibility, every test.
set -uo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never
scripts/bootstrap.sh || exit 1

step() { echo "== $*"; }
step "ruff" && uv run --frozen ruff check . && uv run --frozen ruff format --check . || exit 1
step "mypy (strict)" && uv run --frozen mypy || exit 1
step "import contracts" && uv run --frozen lint-imports || exit 1
step "schema compatibility" && uv run --frozen python -m zicht_schemas.compat || exit 1
step "pytest"
# Two workers: most of the connected tests wait (group joins, retries, a paused broker), so two
# share this 2-core machine well. Tests are grouped by file, and by package where a package
# shares its services (tests/faults, tests/security), so each group's servers start once.
# Pass -n 0 to run serially.
uv run --frozen pytest -n 2 --dist loadgroup "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no test: that is a failure here, not a pass" >&2
    exit 1
fi
exit "$status"
