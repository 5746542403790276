"""The kit's connected tests share a migrated service schema and a local telemetry."""

from kit.helpers import kit_database, pool, telemetry

__all__ = ["kit_database", "pool", "telemetry"]
