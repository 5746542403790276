"""Zicht's synthetic demo region: nothing in it is real."""
