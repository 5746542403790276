"""A business step records on its event's consumer span, or on a span of its own."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from zicht_runtime.telemetry import business_span


def _tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def test_inside_an_events_consumer_span_the_step_adds_no_span() -> None:
    tracer, exporter = _tracer()
    with (
        tracer.start_as_current_span("t process", kind=trace.SpanKind.CONSUMER) as consumer,
        business_span(tracer, "assess signal", {"zicht.provider_id": "prv-test-1"}) as step,
    ):
        assert step is consumer
    (span,) = exporter.get_finished_spans()
    assert span.name == "t process"
    assert dict(span.attributes or {}) == {
        "zicht.operation": "assess signal",
        "zicht.provider_id": "prv-test-1",
    }


def test_outside_a_consumer_span_the_step_is_a_child_span_of_its_own() -> None:
    tracer, exporter = _tracer()
    with (
        tracer.start_as_current_span("POST /v1/signals", kind=trace.SpanKind.SERVER) as server,
        business_span(tracer, "normalise signal", {"zicht.source": "igj"}),
    ):
        pass
    step, request = exporter.get_finished_spans()
    assert (step.name, request.name) == ("normalise signal", "POST /v1/signals")
    assert step.parent is not None
    assert step.parent.span_id == server.get_span_context().span_id
    assert dict(step.attributes or {})["zicht.operation"] == "normalise signal"
