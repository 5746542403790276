"""The golden examples: where they are, which are Kafka events, how a receiver reads each.

Golden examples cover both registries: the Kafka events (``EVENT_MODELS``) and the webhook
payloads notify POSTs (``WEBHOOK_MODELS``); a webhook payload travels on no topic, so only the
Kafka events' examples go through a Kafka record.
"""

import json
from pathlib import Path
from typing import Any

from zicht_schemas import (
    EVENT_MODELS,
    WEBHOOK_MODELS,
    CloudEvent,
    from_structured,
    from_webhook,
)

GOLDEN_DIR = Path(__file__).parent / "golden"


def golden_paths() -> list[Path]:
    """Every golden example, one structured-mode CloudEvent per event or webhook type."""
    return sorted(GOLDEN_DIR.glob("*.json"))


def kafka_golden_paths() -> list[Path]:
    """The golden examples of the events that travel on Kafka."""
    return [path for path in golden_paths() if path.name.removesuffix(".json") in EVENT_MODELS]


def webhook_golden_paths() -> list[Path]:
    """The golden examples of what notify POSTs to subscribers' webhooks."""
    return [path for path in golden_paths() if path.name.removesuffix(".json") in WEBHOOK_MODELS]


def read_golden(body: bytes | str) -> CloudEvent[Any]:
    """A golden example read as its receiver reads it: a webhook's with ``from_webhook``."""
    if json.loads(body).get("type") in WEBHOOK_MODELS:
        return from_webhook(body)
    return from_structured(body)
