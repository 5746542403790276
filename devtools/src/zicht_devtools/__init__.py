"""Zicht's tools for running and testing on one machine; no service and not the kit use them."""
