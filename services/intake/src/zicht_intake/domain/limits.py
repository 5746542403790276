"""Size limits of partner submissions (docs/partners/README.md, "Size limits"), in one place.

The HTTP layer checks ``Content-Length`` against the byte limits early (413); the domain
functions check them again on the bytes they are given, because Kafka messages and chunked
requests carry no length up front.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

__all__ = [
    "CLOCK_SKEW",
    "MAX_ACCESS_TEAM_CSV_BYTES",
    "MAX_ACCESS_TEAM_CSV_KAFKA_BYTES",
    "MAX_ACCESS_TEAM_CSV_ROWS",
    "MAX_CSV_FREE_TEXT_CHARS",
    "MAX_FREE_TEXT_CHARS",
    "MAX_IMPORT_CSV_BYTES",
    "MAX_IMPORT_CSV_ROWS",
    "MAX_INDICATORS_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_JSON_SIGNAL_BYTES",
    "MAX_REGISTRY_BYTES",
    "MAX_REGISTRY_LOCATIONS",
]

KIB: Final = 1024
MIB: Final = 1024 * KIB

MAX_JSON_SIGNAL_BYTES: Final = 256 * KIB
"""One JSON signal (IGJ, police), over HTTP or Kafka."""

MAX_FREE_TEXT_CHARS: Final = 10_000
"""Free text of a JSON signal (``omschrijving``, ``summary``), in characters."""

MAX_CSV_FREE_TEXT_CHARS: Final = 4_000
"""Free text of an access-team CSV row (``toelichting``), in characters."""

MAX_ACCESS_TEAM_CSV_BYTES: Final = 5 * MIB
"""An access-team CSV file over HTTP."""

MAX_ACCESS_TEAM_CSV_KAFKA_BYTES: Final = 1 * MIB
"""An access-team CSV file on Kafka (the topic's ``max.message.bytes``)."""

MAX_ACCESS_TEAM_CSV_ROWS: Final = 5_000
"""Data rows of one access-team CSV file (HTTP and Kafka)."""

MAX_REGISTRY_BYTES: Final = 1 * MIB
"""One provider registry entry (``PUT /v1/providers/{id}``)."""

MAX_REGISTRY_LOCATIONS: Final = 500
"""Locations of one provider registry entry (the schema's ``maxItems`` says the same)."""

MAX_IMPORT_CSV_BYTES: Final = 5 * MIB
"""A registry or indicator CSV import."""

MAX_IMPORT_CSV_ROWS: Final = 20_000
"""Data rows of a registry or indicator CSV import."""

MAX_INDICATORS_BYTES: Final = 64 * KIB
"""One indicator report (``POST /v1/providers/{id}/indicators``)."""

MAX_JSON_DEPTH: Final = 32
"""Deepest nesting of arrays and objects accepted in a JSON body; the formats need 4."""

CLOCK_SKEW: Final = timedelta(minutes=5)
"""How far a partner's moment may lie after receipt before it counts as in the future."""
