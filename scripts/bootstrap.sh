#!/usr/bin/env bash
# Installs what Zicht needs on a fresh machine of this kind, then syncs the workspace.
# Idempotent: a second run only checks. Nothing here downloads an interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
export UV_PYTHON_DOWNLOADS=never

if ! command -v uv >/dev/null 2>&1; then
    echo "bootstrap: installing uv from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check uv
fi

pg_bindir() {
    if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
        pg_config --bindir
        return
    fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
if [ -z "${ZICHT_DATABASE_URL:-}${ZICHT_TEST_DATABASE_URL:-}" ] \
    && ! [ -x "$(pg_bindir)/initdb" ]; then
    echo "bootstrap: installing PostgreSQL server binaries (Debian package postgresql)"
    if [ "$(id -u)" -ne 0 ]; then
        echo "bootstrap: need root for apt-get; run: sudo apt-get install -y postgresql" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    # Zicht runs its own clusters; the distribution's default one is not needed.
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        for cluster in /etc/postgresql/*/main; do
            [ -d "$cluster" ] || continue
            version=$(basename "$(dirname "$cluster")")
            pg_ctlcluster "$version" main stop >/dev/null 2>&1 || true
        done
    fi
fi

uv sync --all-packages --frozen --quiet
