"""Zicht's shared service kit, used by every service and by no contract."""
