"""OpenTelemetry for a Zicht process: one tracer and meter provider, configured from OTEL_*.

Also the small tools every service's metrics share: counting only what a transaction
committed (:func:`after_commit` inside a :class:`commit_scope`) and timing a business stage
(:func:`timed_stage` on the one ``zicht.stage.duration`` histogram).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import TracebackType

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.util.types import AttributeValue

__all__ = [
    "ATTRIBUTES",
    "DURATION_BUCKETS_S",
    "STAGES",
    "Telemetry",
    "after_commit",
    "business_span",
    "commit_scope",
    "context_headers",
    "extract_context",
    "messaging_attributes",
    "setup_telemetry",
    "stage_histogram",
    "timed_stage",
]

# Every business attribute Zicht puts on a span, in one place (docs/telemetry.md lists them).
# None of them may carry personal data: ids of providers, signals and events only.
ATTRIBUTES: Mapping[str, str] = {
    "zicht.service": "the Zicht service that made the span",
    "zicht.operation": "the business step (normalise signal, assess signal, score provider, "
    "route alert) the span records: on the event's consumer span when it ran in one",
    "zicht.event_id": "CloudEvent id of the event handled",
    "zicht.event_type": "CloudEvent type of the event handled",
    "zicht.provider_id": "Zicht's id of the provider concerned",
    "zicht.consumer": "consumer (group) that handled the event",
    "zicht.duplicate": "the event was already processed (inbox hit)",
    "zicht.dead_lettered": "the event was sent to the dead-letter topic",
    "zicht.batch.size": "records in the batch the event was handled in (one transaction)",
    "zicht.db.statements": "SQL statements the event's batch sent, inbox and outbox included",
    "zicht.db.duration_ms": "time the event's batch spent in those statements, in milliseconds",
    "zicht.error_type": "class of the error that stopped processing",
    "zicht.source": "who reported a signal (igj, police, access_team, ...)",
    "zicht.channel": "how a submission arrived (http or kafka)",
    "zicht.submission_id": "intake's id of a partner's submission",
    "zicht.signal_id": "Zicht's id of a signal",
    "zicht.outcome": "what became of a submission (intake) or a signal (triage)",
    "zicht.priority": "the priority triage gave a signal (P1..P4)",
    "zicht.framework_version": "the assessment framework version that decided",
    "zicht.model_version": "the risk model version that scored",
    "zicht.score": "a provider's risk score after an evaluation",
    "zicht.level": "a provider's traffic light after an evaluation",
    "zicht.risk_changed": "the evaluation was a change and was published",
    "zicht.recipients": "how many recipients the routing policy named",
    "zicht.alert_id": "notify's id of an alert",
    "zicht.subscriber_id": "the receiving party: a CBS code, a casus-table id or igj",
    "zicht.attempt": "which delivery attempt of an alert this is",
    "zicht.delivery": "the verdict on a delivery attempt (delivered, retry, failed)",
    # On metrics and the per-event log line only (bounded values, never personal data).
    "zicht.stage": "the business stage a duration belongs to (normalise .. deliver)",
    "zicht.rejection_code": "why intake refused a signal: the code of its first rejection",
    "zicht.previous_level": "a provider's traffic light before a risk change (none: new)",
    "zicht.subscriber_kind": "the kind of recipient: municipality, casus_table, igj, ...",
    "zicht.failure_reason": "why an alert was not delivered (a failure-reason code)",
    "zicht.topic": "the Kafka topic of the event a log line is about",
    "zicht.partition": "the Kafka partition of the event a log line is about",
    "zicht.offset": "the Kafka offset of the event a log line is about",
    "zicht.result": "what a consumer did with an event (processed, duplicate, dead_lettered)",
    "zicht.duration_ms": "how long the handler call that took the event lasted, in milliseconds",
    "zicht.batch_size": "records in the batch a consumer handled the event in",
    "zicht.adopted": "offsets a consumer group took over from the groups that read before",
}

# The business stages of a signal's way through Zicht, one per business span.
STAGES: tuple[str, ...] = ("normalise", "assess", "score", "route", "deliver")

# Histogram buckets for durations in seconds: 1 ms to 10 s (the SDK's default buckets are
# meant for milliseconds and would put every Zicht duration in the first bucket).
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


@dataclass
class Telemetry:
    """The providers of one process; every instrumentation is given these, not globals."""

    service_name: str
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    span_processors: list[SpanProcessor] = field(default_factory=list)

    def tracer(self, name: str) -> trace.Tracer:
        """A tracer of this process."""
        return self.tracer_provider.get_tracer(name)

    def meter(self, name: str) -> metrics.Meter:
        """A meter of this process."""
        return self.meter_provider.get_meter(name)

    def shutdown(self) -> None:
        """Flush and stop exporting."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


def setup_telemetry(
    service_name: str,
    *,
    span_exporters: Sequence[SpanExporter] = (),
    metric_readers: Sequence[MetricReader] = (),
    otlp: bool = False,
    set_global: bool = True,
) -> Telemetry:
    """Build the process's providers.

    With ``otlp`` on (the settings turn it on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set),
    spans and metrics go to the OTLP/HTTP exporters, which read the standard ``OTEL_*``
    variables themselves. Tests pass their own in-memory exporters. The W3C trace-context
    propagator is the default.
    """
    resource = Resource.create({"service.name": service_name, "service.namespace": "zicht"})
    tracer_provider = TracerProvider(resource=resource)
    processors: list[SpanProcessor] = []
    for exporter in span_exporters:
        processors.append(BatchSpanProcessor(exporter))
    readers = list(metric_readers)
    if otlp:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415 - only when exporting
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415 - only when exporting
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.metrics.export import (  # noqa: PLC0415 - only when exporting
            PeriodicExportingMetricReader,
        )

        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    if set_global:
        # The process's own metrics are also scraped at /metrics (Prometheus text format);
        # the reader registers with prometheus_client's registry, one per process.
        from opentelemetry.exporter.prometheus import (  # noqa: PLC0415 - only for the process
            PrometheusMetricReader,
        )

        readers.append(PrometheusMetricReader())
    for processor in processors:
        tracer_provider.add_span_processor(processor)
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    if set_global:
        # Libraries that take no provider argument fall back to the global ones.
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(meter_provider)
    return Telemetry(service_name, tracer_provider, meter_provider, processors)


def messaging_attributes(
    topic: str,
    operation: str,
    message_id: str | None = None,
    *,
    partition: int | None = None,
    offset: int | None = None,
    consumer_group: str | None = None,
) -> dict[str, AttributeValue]:
    """Attributes per the OpenTelemetry messaging semantic conventions for Kafka."""
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "kafka",
        "messaging.destination.name": topic,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
    }
    if message_id is not None:
        attributes["messaging.message.id"] = message_id
    if partition is not None:
        attributes["messaging.destination.partition.id"] = str(partition)
    if offset is not None:
        attributes["messaging.kafka.offset"] = offset
    if consumer_group is not None:
        attributes["messaging.consumer.group.name"] = consumer_group
    return attributes


def extract_context(headers: Sequence[tuple[str, bytes]]) -> Context:
    """The trace context a Kafka record carries in its W3C headers."""
    return propagate.extract({name: value.decode("latin-1") for name, value in headers})


def context_headers(context: Context | None = None) -> list[tuple[str, bytes]]:
    """A trace context (the current one by default) as W3C headers for a Kafka record."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return [(name, value.encode()) for name, value in carrier.items()]


# --- counting what committed ------------------------------------------------------------------

_PENDING: ContextVar[list[Callable[[], None]] | None] = ContextVar("zicht_pending", default=None)


@contextmanager
def business_span(
    tracer: trace.Tracer, name: str, attributes: Mapping[str, AttributeValue]
) -> Iterator[trace.Span]:
    """The span a business step records on: its event's consumer span, else one of its own.

    Handling an event off a topic *is* the step (assessing the signal, scoring the provider),
    so a span for the step beside the kit's consumer span would double every event's spans
    for no information: the step's name (``zicht.operation``) and attributes go on the
    consumer span instead. Outside one (an HTTP request, a replay, a test) the step gets its
    own span, named after it, as a child of whatever is current.
    """
    current = trace.get_current_span()
    if getattr(current, "kind", None) is trace.SpanKind.CONSUMER and current.is_recording():
        current.set_attribute("zicht.operation", name)
        current.set_attributes(attributes)
        yield current
        return
    with tracer.start_as_current_span(name, attributes=attributes) as span:
        span.set_attribute("zicht.operation", name)
        yield span


def after_commit(action: Callable[[], None]) -> None:
    """Run ``action`` once the enclosing :class:`commit_scope` ends without an error.

    Outside any scope it runs at once. Metrics recorded this way count committed work only:
    a transaction that rolls back (a rewound batch, a savepoint of a dead-lettered message)
    counts nothing.
    """
    pending = _PENDING.get()
    if pending is None:
        action()
    else:
        pending.append(action)


class commit_scope:  # noqa: N801 - used like a function: ``async with commit_scope(), ...``
    """Collects :func:`after_commit` actions and runs them when the block ends cleanly.

    Put it *first* in the ``async with`` that opens the transaction, so it ends after the
    commit::

        async with commit_scope(), pool.acquire() as conn, conn.transaction():
            ...

    A scope inside another hands its actions to the outer one (a savepoint's work counts when
    the whole transaction commits); a block that raises drops them. Works with ``with`` too.
    """

    def __init__(self) -> None:
        self._actions: list[Callable[[], None]] = []
        self._token: Token[list[Callable[[], None]] | None] | None = None

    def __enter__(self) -> commit_scope:
        self._token = _PENDING.set(self._actions)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._token is not None:
            _PENDING.reset(self._token)
        if exc_type is not None:
            return
        outer = _PENDING.get()
        if outer is not None:
            outer.extend(self._actions)
            return
        for action in self._actions:
            action()

    async def __aenter__(self) -> commit_scope:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


# --- business stages --------------------------------------------------------------------------


def stage_histogram(meter: metrics.Meter) -> metrics.Histogram:
    """The ``zicht.stage.duration`` histogram of a service (one name across all services)."""
    return meter.create_histogram(
        "zicht.stage.duration",
        unit="s",
        description="Time of one business step of a signal (attribute zicht.stage); "
        "every attempt counts, also one that is rolled back.",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS_S,
    )


@contextmanager
def timed_stage(histogram: metrics.Histogram, stage: str) -> Iterator[None]:
    """Record how long the block takes on ``histogram`` under ``zicht.stage = stage``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        histogram.record(time.perf_counter() - started, {"zicht.stage": stage})
