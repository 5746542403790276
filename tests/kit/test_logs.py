"""JSON log lines carry the trace and span of the work they describe."""

from __future__ import annotations

import json
import logging

import pytest

from zicht_runtime.logs import JsonFormatter
from zicht_runtime.telemetry import setup_telemetry

pytestmark = pytest.mark.unit


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "zicht.test", "levelname": "INFO", "msg": message})
    for name, value in extra.items():
        setattr(record, name, value)
    return record


def test_a_log_line_inside_a_span_names_its_trace_and_span() -> None:
    tracer = setup_telemetry("kit-test", set_global=False).tracer("test")
    with tracer.start_as_current_span("assess signal") as span:
        line = JsonFormatter("triage").format(
            _record("signal assessed", **{"zicht.outcome": "bundle"})
        )
        context = span.get_span_context()
    entry = json.loads(line)
    assert entry["service"] == "triage"
    assert entry["message"] == "signal assessed"
    assert entry["trace_id"] == format(context.trace_id, "032x")
    assert entry["span_id"] == format(context.span_id, "016x")
    assert entry["zicht.outcome"] == "bundle"


def test_a_log_line_outside_any_span_has_no_trace_ids() -> None:
    entry = json.loads(JsonFormatter("intake").format(_record("started")))
    assert "trace_id" not in entry
    assert entry["level"] == "INFO"
