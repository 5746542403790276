"""Reading what an in-memory OpenTelemetry metric reader holds, as plain numbers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    InMemoryMetricReader,
)

from zicht_runtime.telemetry import commit_scope

__all__ = ["MetricValues", "in_memory_meter", "metric_values", "rolled_back"]

# (metric name, its attributes as sorted pairs) -> value; a histogram's value is its count.
MetricValues = dict[tuple[str, tuple[tuple[str, Any], ...]], float]


def in_memory_meter() -> tuple[MeterProvider, InMemoryMetricReader]:
    """A meter provider of the test's own (not global) and the reader that collects it."""
    reader = InMemoryMetricReader()
    return MeterProvider(metric_readers=[reader]), reader


def metric_values(reader: InMemoryMetricReader) -> MetricValues:
    """Every data point the reader collects now, keyed by name and attributes."""
    values: MetricValues = {}
    data = reader.get_metrics_data()
    if data is None:
        return values
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, tuple(sorted((point.attributes or {}).items())))
                    if isinstance(point, HistogramDataPoint | ExponentialHistogramDataPoint):
                        values[key] = point.count
                    else:
                        values[key] = point.value
    return values


class _RolledBackError(Exception):
    """The end of a transaction that did not commit."""


def _fail() -> None:
    raise _RolledBackError


def rolled_back(work: Callable[[], object]) -> None:
    """Run ``work`` in a commit scope that ends in an error, as a rolled-back transaction."""
    try:
        with commit_scope():
            work()
            _fail()
    except _RolledBackError:
        return
