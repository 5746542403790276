"""Sampling follows the standard OTEL_TRACES_SAMPLER variables, parent-based, all by default."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from zicht_runtime.telemetry import setup_telemetry

pytestmark = pytest.mark.unit


def _sampled_parent() -> trace.Span:
    return NonRecordingSpan(
        SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    )


def test_every_trace_is_sampled_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    tracer = setup_telemetry("kit-test", set_global=False).tracer("t")
    with tracer.start_as_current_span("root") as span:
        assert span.get_span_context().trace_flags.sampled


def test_a_ratio_sampler_drops_new_traces_but_follows_a_sampled_parent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    tracer = setup_telemetry("kit-test", set_global=False).tracer("t")
    with tracer.start_as_current_span("root") as root:
        assert not root.get_span_context().trace_flags.sampled
    context = trace.set_span_in_context(_sampled_parent())
    with tracer.start_as_current_span("hop", context=context) as hop:
        assert hop.get_span_context().trace_flags.sampled, "a trace is kept whole"
