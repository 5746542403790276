"""JSON Schemas of event and webhook data, generated from the models (the models are the source).

One schema per CloudEvents type, for the Kafka events (``EVENT_MODELS``) and the webhook payloads
(``WEBHOOK_MODELS``) alike; only an event's schema names a topic, since a webhook travels on none.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from zicht_schemas.cloudevents import DEFAULT_SCHEMA_BASE_URL, dataschema_uri
from zicht_schemas.events import EVENT_MODELS, WEBHOOK_MODELS, EventData, WebhookData

__all__ = [
    "DEFAULT_SCHEMA_DIR",
    "SCHEMA_DIALECT",
    "TOPIC_KEYWORD",
    "TYPE_KEYWORD",
    "all_event_schemas",
    "event_json_schema",
    "render_schema",
    "schema_file_name",
]

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
TYPE_KEYWORD: Final = "x-zicht-event-type"
"""Annotation naming the CloudEvents type a schema describes."""
TOPIC_KEYWORD: Final = "x-zicht-topic"
"""Annotation naming the Kafka topic the event travels on; absent for a webhook payload."""

# schemas/src/zicht_schemas/jsonschema.py -> schemas/json: the committed schemas in the repository.
DEFAULT_SCHEMA_DIR: Final = Path(__file__).resolve().parents[2] / "json"


def event_json_schema(
    model: type[EventData] | type[WebhookData], *, base_url: str = DEFAULT_SCHEMA_BASE_URL
) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one model's data, ``$id`` its ``dataschema`` URI."""
    # "validation" mode: the schema says what a consumer accepts; fields with defaults are
    # optional, which is what the compatibility check must see.
    schema = model.model_json_schema(mode="validation")
    topic = {TOPIC_KEYWORD: model.TOPIC} if issubclass(model, EventData) else {}
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": dataschema_uri(model.EVENT_TYPE, base_url),
        TYPE_KEYWORD: model.EVENT_TYPE,
        **topic,
        **schema,
    }


def all_event_schemas(*, base_url: str = DEFAULT_SCHEMA_BASE_URL) -> dict[str, dict[str, Any]]:
    """Every schema by CloudEvents type: the Kafka events' and the webhook payloads'."""
    models: list[type[EventData] | type[WebhookData]] = [
        *EVENT_MODELS.values(),
        *WEBHOOK_MODELS.values(),
    ]
    return {model.EVENT_TYPE: event_json_schema(model, base_url=base_url) for model in models}


def render_schema(schema: Mapping[str, Any]) -> str:
    """The committed text of a schema: indented, keys sorted, newline-terminated (stable)."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_file_name(event_type: str) -> str:
    """The file name of ``event_type``'s schema: ``<type>.json``."""
    return f"{event_type}.json"
