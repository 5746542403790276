"""Zicht's triage service."""
