"""Zicht's notify service."""
