"""Zicht's event contracts: the single source of every event, topic and schema."""
