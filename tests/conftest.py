"""Shared pytest configuration: loads the real-infrastructure plugin in tests/support."""

__all__ = ["pytest_plugins"]

# tests/ is on sys.path (pyproject: pythonpath), so tests/support imports as ``support``.
pytest_plugins = ["support.fixtures"]
