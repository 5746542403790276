"""Shared pytest configuration: loads the real-infrastructure plugin in tests/support."""

import os

__all__ = ["pytest_plugins"]

# Intake refuses to start without a pseudonym key. Tests use a synthetic one of their own, set
# here once so the settings the tests build and the service processes they start all have it
# (a test about the key itself sets or removes it explicitly).
os.environ.setdefault("ZICHT_PSEUDONYM_KEY", "zicht-tests-synthetic-pseudonym-key-0001")
os.environ.setdefault("ZICHT_PSEUDONYM_KEY_ID", "tests-1")
# Notify likewise refuses to start without a key to seal webhook secrets with.
os.environ.setdefault(
    "ZICHT_WEBHOOK_SECRET_KEYS", "tests-1:emljaHQtdGVzdHMtc3ludGhldGljLXNlY3JldC1rZXktMDE="
)

# tests/ is on sys.path (pyproject: pythonpath), so tests/support imports as ``support``.
pytest_plugins = ["support.fixtures"]
