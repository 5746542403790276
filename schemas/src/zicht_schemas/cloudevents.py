"""The CloudEvents 1.0 envelope (NL GOV profile) and its Kafka binary and HTTP structured modes.

Kafka (binary content mode, CloudEvents Kafka protocol binding 1.0): the record value is
``data`` as compact UTF-8 JSON; every attribute travels as a ``ce_<name>`` header holding its
UTF-8 text, except ``datacontenttype``, which the binding maps to the ``content-type`` header.
Other headers (W3C ``traceparent``, ``tracestate``) are the caller's and are left alone.

HTTP webhooks (structured content mode): one JSON object, ``application/cloudevents+json``.
:func:`from_webhook` reads what notify POSTs (an alert or a verification, ``WEBHOOK_MODELS``);
:func:`from_structured` reads a Kafka event's type in that mode (golden examples, tools).
"""

import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Generic, Literal, TypeVar, overload

from pydantic import (
    BaseModel,
    Field,
    SerializeAsAny,
    StringConstraints,
    ValidationError,
    field_validator,
)

from zicht_schemas.errors import InvalidEventError, InvalidEventKind, describe_validation_error
from zicht_schemas.events import EVENT_MODELS, WEBHOOK_MODELS, EventData, WebhookData, WireModel
from zicht_schemas.values import CloudEventId, EventType, Identifier, UtcDateTime

__all__ = [
    "CE_HEADER_PREFIX",
    "CONTENT_TYPE_HEADER",
    "DEFAULT_SCHEMA_BASE_URL",
    "JSON_CONTENT_TYPE",
    "SPECVERSION",
    "STRUCTURED_CONTENT_TYPE",
    "CloudEvent",
    "CloudEventAttributes",
    "KafkaRecord",
    "dataschema_uri",
    "from_kafka_record",
    "from_structured",
    "from_webhook",
    "new_event",
    "source_urn",
    "to_kafka_record",
    "to_structured",
]

SPECVERSION: Final = "1.0"
JSON_CONTENT_TYPE: Final = "application/json"
STRUCTURED_CONTENT_TYPE: Final = "application/cloudevents+json"
"""The HTTP ``Content-Type`` of a structured-mode CloudEvent in JSON (webhooks)."""
CONTENT_TYPE_HEADER: Final = "content-type"
"""The Kafka header that carries ``datacontenttype`` in binary mode (not ``ce_datacontenttype``)."""
CE_HEADER_PREFIX: Final = "ce_"
DEFAULT_SCHEMA_BASE_URL: Final = "https://zicht.example/schemas/"

_OIN = re.compile(r"^[0-9]{20}$")
_URN_PART = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_REQUIRED: Final = ("specversion", "id", "source", "type", "time", "dataschema")
_MAX_ECHO = 120  # an unknown type or content type is quoted, cut to this length

DataT = TypeVar("DataT", bound=BaseModel)
"""The data model; bound to BaseModel so generic consumers may say ``CloudEvent[T]``."""

Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes | str]
"""Kafka headers as aiokafka gives them (pairs, in order) or as a mapping."""

_Urn = Annotated[
    str,
    StringConstraints(
        pattern=r"^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:[A-Za-z0-9()+,.:=@;$_!*'%/?#-]+$"
    ),
]
_HttpUri = Annotated[
    str, StringConstraints(pattern=r"^https?://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]+$")
]


def source_urn(oin: str, service: str, *, system: str = "zicht") -> str:
    """The CloudEvents ``source`` of a service, as the NL GOV profile asks: a URN with the OIN.

    Example: ``source_urn("00000001234567890000", "intake")`` is
    ``urn:nld:oin:00000001234567890000:zicht:intake``.

    Args:
        oin: The deployment organisation's OIN (Organisatie-identificatienummer), 20 digits.
        service: The producing service, lower case (intake, triage, scoring, notify).
        system: The system name within the organisation.

    Raises:
        ValueError: When the OIN is not 20 digits or a name is not a lower-case URN part.
    """
    if not _OIN.fullmatch(oin):
        raise ValueError("an OIN is 20 digits")
    for what, part in (("service", service), ("system", system)):
        if not _URN_PART.fullmatch(part):
            raise ValueError(f"{what} must be lower-case letters, digits and '-'")
    return f"urn:nld:oin:{oin}:{system}:{service}"


def dataschema_uri(event_type: str, base_url: str = DEFAULT_SCHEMA_BASE_URL) -> str:
    """The URI of the JSON Schema of ``event_type``'s data: ``<base_url>/<type>.json``."""
    return f"{base_url.rstrip('/')}/{event_type}.json"


class CloudEventAttributes(WireModel):
    """The context attributes of a Zicht CloudEvent (CloudEvents 1.0, NL GOV profile)."""

    specversion: Literal["1.0"] = Field(
        default=SPECVERSION, description="CloudEvents specification version; always 1.0."
    )
    id: CloudEventId = Field(description="Unique id of the event (a UUID); source + id is unique.")
    source: _Urn = Field(
        description="URN of the producing organisation and service, "
        "e.g. urn:nld:oin:<OIN>:zicht:intake."
    )
    type: EventType = Field(
        description="Reverse-DNS event type, domain-named, with a version suffix, "
        "e.g. nl.zorgtoezicht.signal.received.v1."
    )
    subject: Identifier | None = Field(
        default=None,
        description="The provider id the event is about; never a BSN or anything personal.",
    )
    time: UtcDateTime = Field(description="When the event was recorded (RFC 3339, UTC).")
    datacontenttype: Literal["application/json"] = Field(
        default=JSON_CONTENT_TYPE, description="Media type of data; always application/json."
    )
    dataschema: _HttpUri = Field(description="URI of the JSON Schema of data.")
    correlationid: Identifier | None = Field(
        default=None,
        description="Extension: id shared by every event descending from one signal or cause.",
    )
    causationid: Identifier | None = Field(
        default=None, description="Extension: id of the event that directly caused this one."
    )


class CloudEvent(CloudEventAttributes, Generic[DataT]):
    """A CloudEvent whose ``data`` is one of Zicht's event models.

    Build one with :func:`new_event`; read one with :func:`from_kafka_record` or
    :func:`from_structured`, or validate with a parametrized class, e.g.
    ``CloudEvent[SignalReceivedV1].model_validate_json(body)``.
    """

    # SerializeAsAny: dump the data as its runtime model, whatever the type parameter says.
    data: SerializeAsAny[DataT] = Field(description="The event data, as its model.")

    @field_validator("data", mode="before")
    @classmethod
    def _data_needs_a_model(cls, value: object) -> object:
        # Unparametrized, the data would be read as a bare BaseModel and silently emptied.
        if not isinstance(value, BaseModel) and not cls.__pydantic_generic_metadata__["args"]:
            raise ValueError(
                "CloudEvent needs the data model to read data: use CloudEvent[Model], "
                "from_structured or from_kafka_record"
            )
        return value


_ATTRIBUTE_NAMES: Final = tuple(CloudEventAttributes.model_fields)


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What to hand a Kafka producer: topic, key, value and headers (binary content mode)."""

    topic: str
    key: bytes | None
    """The partition key; None only for the dead letter of a record that had no key."""
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def with_headers(self, *extra: tuple[str, bytes]) -> "KafkaRecord":
        """A copy with ``extra`` headers appended (e.g. ``traceparent``)."""
        return KafkaRecord(self.topic, self.key, self.value, self.headers + tuple(extra))

    def header(self, name: str) -> bytes | None:
        """The first value of header ``name``, or None."""
        return next((value for key, value in self.headers if key == name), None)


def _event_type_of(model: type[BaseModel]) -> str:
    event_type = getattr(model, "EVENT_TYPE", None)
    if not isinstance(event_type, str):
        raise TypeError(f"{model.__name__} has no EVENT_TYPE: it is not an event data model")
    return event_type


def new_event(
    data: DataT,
    *,
    source: str,
    subject: str | None = None,
    correlation_id: str | uuid.UUID | None = None,
    causation_id: str | uuid.UUID | None = None,
    event_id: str | uuid.UUID | None = None,
    time: datetime | None = None,
    schema_base_url: str = DEFAULT_SCHEMA_BASE_URL,
) -> CloudEvent[DataT]:
    """Wrap event data in a CloudEvent: type and dataschema from the model, a fresh id.

    Args:
        data: The event data, an instance of one of the models in ``EVENT_MODELS`` or
            ``WEBHOOK_MODELS``.
        source: The producer's URN, from :func:`source_urn`.
        subject: The provider id; by default the provider the data is about (None for events
            about no provider, such as a rejection, a dead letter without one or a webhook
            verification).
        correlation_id: Id shared along one causal chain (e.g. the signal's first event id).
        causation_id: Id of the event that caused this one.
        event_id: The CloudEvent id; a new UUID 4 by default.
        time: When the event was recorded; now (UTC) by default.
        schema_base_url: Base URL of the published JSON Schemas.

    Returns:
        The CloudEvent, validated.

    Raises:
        TypeError: When ``data`` is not an event data model.
        ValueError: When ``subject`` contradicts the provider the data is about.
        pydantic.ValidationError: When an attribute is malformed (e.g. source not a URN).
    """
    event_type = _event_type_of(type(data))
    about = data.about_provider() if isinstance(data, EventData | WebhookData) else None
    if subject is None:
        subject = about
    elif about is not None and subject != about:
        raise ValueError("subject must be the provider id the event is about")
    return CloudEvent(
        id=str(event_id) if event_id is not None else str(uuid.uuid4()),
        source=source,
        type=event_type,
        subject=subject,
        time=time if time is not None else datetime.now(UTC),
        dataschema=dataschema_uri(event_type, schema_base_url),
        correlationid=str(correlation_id) if correlation_id is not None else None,
        causationid=str(causation_id) if causation_id is not None else None,
        data=data,
    )


def _attribute_texts(event: CloudEventAttributes) -> dict[str, str]:
    # mode="json" renders time as RFC 3339 with "Z"; absent optional attributes are left out.
    dumped = event.model_dump(mode="json", exclude_none=True, exclude={"data"})
    return {name: str(value) for name, value in dumped.items()}


def to_kafka_record(event: CloudEvent[Any], *, key: bytes | str | None = None) -> KafkaRecord:
    """The Kafka record of ``event`` in binary content mode.

    Args:
        event: The event.
        key: The partition key; by default the data's own key: the provider id (= subject) for
            provider events, the partner id for rejections, the subscriber id for alert
            outcomes, the original key for dead letters.

    Returns:
        Topic (the model's), key, value (data as compact UTF-8 JSON) and headers: ``ce_*`` for
        every attribute set, ``content-type: application/json``. Append ``traceparent`` with
        :meth:`KafkaRecord.with_headers`.

    Raises:
        TypeError: When the data is not one of Zicht's event models (a webhook payload is not:
            it travels on no topic).
    """
    data = event.data
    if isinstance(data, WebhookData):
        raise TypeError(f"{type(data).__name__} is a webhook payload: it travels on no topic")
    if not isinstance(data, EventData):
        raise TypeError(f"{type(data).__name__} is not an event data model")
    attributes = _attribute_texts(event)
    content_type = attributes.pop("datacontenttype")
    headers = tuple(
        (f"{CE_HEADER_PREFIX}{name}", text.encode()) for name, text in attributes.items()
    )
    headers += ((CONTENT_TYPE_HEADER, content_type.encode()),)
    if key is None:
        record_key = data.partition_key()
    else:
        record_key = key.encode() if isinstance(key, str) else key
    return KafkaRecord(
        topic=data.kafka_topic(),
        key=record_key,
        value=data.model_dump_json().encode(),
        headers=headers,
    )


def to_structured(event: CloudEvent[Any]) -> bytes:
    """``event`` in structured content mode: one compact JSON object (webhook body).

    Send it with ``Content-Type: application/cloudevents+json`` (``STRUCTURED_CONTENT_TYPE``).
    """
    body: dict[str, Any] = dict(_attribute_texts(event))
    body["data"] = event.data.model_dump(mode="json")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _quote(text: str) -> str:
    return repr(text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "...")


def _short_text(value: object) -> str | None:
    """``value`` when it is text short enough to quote in an error, else None."""
    return value if isinstance(value, str) and len(value) <= _MAX_ECHO else None


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _decode_headers(headers: Headers) -> dict[str, str]:
    """The ``ce_*`` and ``content-type`` headers as ``{lower-case name: text}``."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    texts: dict[str, str] = {}
    for name, raw in pairs:
        lowered = name.lower()
        if not (lowered.startswith(CE_HEADER_PREFIX) or lowered == CONTENT_TYPE_HEADER):
            continue  # traceparent and other headers are not ours to judge
        if raw is None:
            raise InvalidEventError(
                f"header {name} has no value", kind=InvalidEventKind.INVALID_ATTRIBUTE
            )
        try:
            text = raw if isinstance(raw, str) else raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEventError(
                f"header {name} is not UTF-8 text", kind=InvalidEventKind.INVALID_ATTRIBUTE
            ) from None
        if lowered in texts and texts[lowered] != text:
            raise InvalidEventError(
                f"header {name} appears twice with different values",
                kind=InvalidEventKind.INVALID_ATTRIBUTE,
            )
        texts[lowered] = text
    return texts


def _unknown_type(event_type: str, registry: Mapping[str, type[BaseModel]]) -> str:
    """Why ``event_type`` is not in ``registry``, with a hint when it is in the other one."""
    if registry is EVENT_MODELS and event_type in WEBHOOK_MODELS:
        return "is a webhook type, on no Kafka topic: read it with from_webhook"
    if registry is WEBHOOK_MODELS:
        if event_type in EVENT_MODELS:
            return "is a Kafka event type, not a webhook: read it with from_structured"
        return "is not a Zicht webhook type"
    return "is not a Zicht event type"


def _resolve_model(
    attributes: Mapping[str, object],
    model: type[BaseModel] | None,
    name: Callable[[str], str],
    registry: Mapping[str, type[BaseModel]] = EVENT_MODELS,
) -> type[BaseModel]:
    """Check specversion and type; the model to read the data with (from ``registry``)."""
    specversion = attributes.get("specversion")
    event_type = attributes.get("type")
    event_id = _short_text(attributes.get("id"))
    shown_type = _short_text(event_type)
    if specversion is None:
        raise InvalidEventError(
            f"missing {name('specversion')}: not a CloudEvent",
            kind=InvalidEventKind.MISSING_ATTRIBUTE,
            event_type=shown_type,
            event_id=event_id,
        )
    if specversion != SPECVERSION:
        shown = _quote(specversion) if isinstance(specversion, str) else "not text"
        raise InvalidEventError(
            f"{name('specversion')} is {shown}; only {SPECVERSION!r} is supported",
            kind=InvalidEventKind.UNSUPPORTED_SPECVERSION,
            event_type=shown_type,
            event_id=event_id,
        )
    if event_type is None:
        raise InvalidEventError(
            f"missing {name('type')}", kind=InvalidEventKind.MISSING_ATTRIBUTE, event_id=event_id
        )
    if not isinstance(event_type, str):
        raise InvalidEventError(
            f"{name('type')} is not text",
            kind=InvalidEventKind.INVALID_ATTRIBUTE,
            event_id=event_id,
        )
    if model is None:
        found = registry.get(event_type)
        if found is None:
            raise InvalidEventError(
                f"{name('type')} {_quote(event_type)} {_unknown_type(event_type, registry)}",
                kind=InvalidEventKind.UNKNOWN_TYPE,
                event_id=event_id,
            )
        return found
    expected = _event_type_of(model)
    if event_type != expected:
        raise InvalidEventError(
            f"{name('type')} is {_quote(event_type)}, expected {expected!r}",
            kind=InvalidEventKind.UNEXPECTED_TYPE,
            event_id=event_id,
        )
    return model


def _read_event(
    attributes: Mapping[str, object],
    load_data: Callable[[type[BaseModel]], BaseModel],
    model: type[BaseModel] | None,
    name: Callable[[str], str],
    registry: Mapping[str, type[BaseModel]] = EVENT_MODELS,
) -> CloudEvent[Any]:
    """Check the envelope's shape, read the data, validate the whole; fail as InvalidEventError."""
    data_model = _resolve_model(attributes, model, name, registry)
    event_type = str(attributes["type"])
    event_id = _short_text(attributes.get("id"))
    missing = [name(attr) for attr in _REQUIRED if attributes.get(attr) is None]
    if missing:
        raise InvalidEventError(
            "missing " + ", ".join(missing),
            kind=InvalidEventKind.MISSING_ATTRIBUTE,
            event_type=event_type,
            event_id=event_id,
        )
    content_type = attributes.get("datacontenttype")
    if content_type is not None and (
        not isinstance(content_type, str) or _media_type(content_type) != JSON_CONTENT_TYPE
    ):
        shown = _quote(content_type) if isinstance(content_type, str) else "not text"
        raise InvalidEventError(
            f"{name('datacontenttype')} is {shown}; only {JSON_CONTENT_TYPE!r} is supported",
            kind=InvalidEventKind.UNSUPPORTED_CONTENT_TYPE,
            event_type=event_type,
            event_id=event_id,
        )
    known = {attr: attributes[attr] for attr in _ATTRIBUTE_NAMES if attr in attributes}
    known["datacontenttype"] = JSON_CONTENT_TYPE  # parameters such as charset=utf-8 dropped
    # The data is read first and the envelope validated once with it: validating attributes
    # separately would run every attribute validator twice per message.
    data = load_data(data_model)
    try:
        return CloudEvent.model_validate({**known, "data": data})
    except ValidationError as exc:
        details = describe_validation_error(exc)
        raise InvalidEventError(
            "invalid CloudEvent attributes",
            kind=InvalidEventKind.INVALID_ATTRIBUTE,
            details=tuple(_rename_attribute(line, name) for line in details),
            event_type=event_type,
            event_id=event_id,
        ) from None


def _rename_attribute(line: str, name: Callable[[str], str]) -> str:
    attribute, _, rest = line.partition(":")
    return f"{name(attribute)}:{rest}"


def _validate_json_data(
    model: type[BaseModel], payload: bytes | str, *, event_type: str, event_id: str | None
) -> BaseModel:
    if not payload or not payload.strip():
        raise InvalidEventError(
            "the payload is empty; expected the event data as a JSON object",
            kind=InvalidEventKind.INVALID_JSON,
            event_type=event_type,
            event_id=event_id,
        )
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        if any(item["type"] == "json_invalid" for item in exc.errors()):
            raise InvalidEventError(
                "the payload is not valid JSON",
                kind=InvalidEventKind.INVALID_JSON,
                details=describe_validation_error(exc),
                event_type=event_type,
                event_id=event_id,
            ) from None
        raise InvalidEventError(
            "the data does not match the event's model",
            kind=InvalidEventKind.INVALID_DATA,
            details=describe_validation_error(exc, prefix="data"),
            event_type=event_type,
            event_id=event_id,
        ) from None


@overload
def from_kafka_record(
    value: bytes, headers: Headers, model: None = None
) -> CloudEvent[EventData]: ...
@overload
def from_kafka_record(value: bytes, headers: Headers, model: type[DataT]) -> CloudEvent[DataT]: ...
def from_kafka_record(
    value: bytes, headers: Headers, model: type[BaseModel] | None = None
) -> CloudEvent[Any]:
    """Read a Kafka record in binary content mode into a validated CloudEvent.

    Args:
        value: The record value: the data as JSON.
        headers: The record headers, as (name, bytes) pairs or a mapping; names of ``ce_*``
            headers are matched case-insensitively, other headers are ignored.
        model: The data model the consumer expects; by default the model registered for
            ``ce_type`` in ``EVENT_MODELS``.

    Returns:
        The event, its data an instance of the model.

    Raises:
        InvalidEventError: With a precise reason (and ``kind``) for a missing or malformed
            ``ce_*`` header, a specversion other than 1.0, an unknown or unexpected type, a
            content type other than JSON, a value that is not JSON, or data failing the model.
    """
    attributes: dict[str, object] = {}
    for header, text in _decode_headers(headers).items():
        if header == CONTENT_TYPE_HEADER:
            attributes["datacontenttype"] = text
        else:
            attributes[header[len(CE_HEADER_PREFIX) :]] = text

    def header_name(attribute: str) -> str:
        if attribute == "datacontenttype":
            return f"header {CONTENT_TYPE_HEADER}"
        return f"header {CE_HEADER_PREFIX}{attribute}"

    def load(data_model: type[BaseModel]) -> BaseModel:
        return _validate_json_data(
            data_model,
            value,
            event_type=str(attributes["type"]),
            event_id=_short_text(attributes.get("id")),
        )

    return _read_event(attributes, load, model, header_name)


@overload
def from_structured(body: bytes | str, model: None = None) -> CloudEvent[EventData]: ...
@overload
def from_structured(body: bytes | str, model: type[DataT]) -> CloudEvent[DataT]: ...
def from_structured(body: bytes | str, model: type[BaseModel] | None = None) -> CloudEvent[Any]:
    """Read a structured-mode CloudEvent (``application/cloudevents+json``) into a model.

    Args:
        body: The JSON object, e.g. a golden example file (a webhook body: see
            :func:`from_webhook`).
        model: The data model expected (an event's or a webhook's, e.g. ``AlertV1``); by
            default the one registered for its ``type`` in ``EVENT_MODELS``.

    Returns:
        The event, its data an instance of the model.

    Raises:
        InvalidEventError: As :func:`from_kafka_record`; also for ``data_base64`` (binary data
            is not used by Zicht) or a missing ``data``.
    """
    return _read_structured(body, model, EVENT_MODELS)


def from_webhook(body: bytes | str) -> CloudEvent[WebhookData]:
    """Read the body of a webhook notify POSTed: an alert or a verification delivery.

    Verify the Standard Webhooks signature over the exact bytes first; then this reads them.
    Dispatch on the result's ``type`` (or ``isinstance`` of its ``data``): a verification
    (``VerificationV1``) is never an alert.

    Args:
        body: The request body, ``application/cloudevents+json``.

    Returns:
        The event, its data an instance of the model registered for its ``type`` in
        ``WEBHOOK_MODELS`` (``AlertV1`` or ``VerificationV1``).

    Raises:
        InvalidEventError: As :func:`from_structured`; ``kind`` ``unknown_type`` for a type
            that is not a webhook payload.
    """
    return _read_structured(body, None, WEBHOOK_MODELS)


def _read_structured(
    body: bytes | str,
    model: type[BaseModel] | None,
    registry: Mapping[str, type[BaseModel]],
) -> CloudEvent[Any]:
    """Read a structured-mode body; without ``model``, the data model comes from ``registry``."""
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        position = (
            f" at line {exc.lineno} column {exc.colno}"
            if isinstance(exc, json.JSONDecodeError)
            else ""
        )
        raise InvalidEventError(
            f"the body is not valid JSON{position}", kind=InvalidEventKind.INVALID_JSON
        ) from None
    if not isinstance(document, dict):
        raise InvalidEventError("the body is not a JSON object", kind=InvalidEventKind.INVALID_JSON)
    attributes = {k: v for k, v in document.items() if k not in {"data", "data_base64"}}

    def field_name(attribute: str) -> str:
        return f"attribute {attribute}"

    def load(data_model: type[BaseModel]) -> BaseModel:
        event_id = _short_text(attributes.get("id"))
        event_type = str(attributes["type"])
        if "data_base64" in document:
            raise InvalidEventError(
                "data_base64 is not supported: Zicht events carry JSON data",
                kind=InvalidEventKind.UNSUPPORTED_CONTENT_TYPE,
                event_type=event_type,
                event_id=event_id,
            )
        if "data" not in document:
            raise InvalidEventError(
                "the event has no data",
                kind=InvalidEventKind.INVALID_DATA,
                event_type=event_type,
                event_id=event_id,
            )
        # Re-encode so the data is read with JSON semantics, exactly as from Kafka.
        return _validate_json_data(
            data_model,
            json.dumps(document["data"], ensure_ascii=False),
            event_type=event_type,
            event_id=event_id,
        )

    return _read_event(attributes, load, model, field_name, registry)
