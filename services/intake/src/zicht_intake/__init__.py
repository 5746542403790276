"""Zicht's intake service."""
