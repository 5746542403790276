"""Zicht's scoring service."""
