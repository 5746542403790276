"""The benchmarks' webhook receiver, which notes when each alert arrives, and an OTLP sink.

The receiver checks every webhook as a real subscriber must (``zicht_demo.receiver.verify``:
Standard Webhooks signatures with the subscriber's own secret; a wrong signature is a 401, as
notify's callback verification expects) and records the arrival time, the ``webhook-id`` and
the alert's ``source_event_id`` of each alert, so the latency benchmark can match an alert to
the signal that caused it. It speaks HTTP/1.1 with keep-alive, so notify's connection pool is
used as it would be against a real receiver.

The OTLP sink accepts OTLP/HTTP exports (traces and metrics) and throws them away: with it the
services export their telemetry as in a deployment, and the export's cost is measured too. It
decodes each trace export to count spans per service and kind, and the SQL statements the
consumer spans account for (``zicht.db.statements`` shared over ``zicht.batch.size``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from zicht_demo.receiver import VERIFICATION_TYPE, new_secret, verify

__all__ = ["EXPORT_FLUSH_S", "Arrival", "KeptSpan", "OtlpSink", "TimedReceiver", "TraceCounts"]

_HOST: Final = "127.0.0.1"
EXPORT_FLUSH_S: Final = 6.0
"""How long to wait for the services' last span export to reach the sink: longer than the
batch span processor's schedule delay (5 s by default)."""
_MAX_BODY: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Arrival:
    """One alert as it arrived."""

    at: float
    """``time.time()`` when its body was read and its signature checked."""
    path: str
    webhook_id: str
    source_event_id: str
    source_event_type: str


@dataclass
class _State:
    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    arrivals: list[Arrival] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _alert_of(body: bytes) -> tuple[str, str, str]:
    """The CloudEvent type and the alert's source event id and type, as far as readable."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "", "", ""
    if not isinstance(event, dict):
        return "", "", ""
    data = event.get("data")
    data = data if isinstance(data, dict) else {}
    return (
        str(event.get("type", "")),
        str(data.get("source_event_id", "")),
        str(data.get("source_event_type", "")),
    )


def _receiver_handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as notify's client expects of a receiver

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it
            """Quiet."""

        def do_POST(self) -> None:
            """Verify, note the arrival, acknowledge."""
            length = self.headers.get("content-length", "")
            if not length.isdigit() or int(length) > _MAX_BODY:
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
                return
            body = self.rfile.read(int(length))
            arrived = time.time()
            path = self.path.split("?")[0]
            headers = {name.lower(): value for name, value in self.headers.items()}
            with state.lock:
                secrets = state.secrets.get(path)
            if secrets is None:
                self._answer(HTTPStatus.NOT_FOUND)
                return
            if verify(secrets, headers, body) is not None:
                with state.lock:
                    state.counts["refused"] += 1
                self._answer(HTTPStatus.UNAUTHORIZED)
                return
            kind, source_event_id, source_event_type = _alert_of(body)
            webhook_id = headers.get("webhook-id", "")
            with state.lock:
                if kind == VERIFICATION_TYPE:
                    state.counts["verifications"] += 1
                elif webhook_id in state.seen:
                    state.counts["duplicates"] += 1
                else:
                    state.seen.add(webhook_id)
                    state.counts["alerts"] += 1
                    state.arrivals.append(
                        Arrival(arrived, path, webhook_id, source_event_id, source_event_type)
                    )
            self._answer(HTTPStatus.NO_CONTENT)

        def _answer(self, status: HTTPStatus) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class _Server:
    """A threading HTTP server on loopback in a thread of its own."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer((_HOST, 0), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{_HOST}:{self._server.server_address[1]}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class TimedReceiver(_Server):
    """Receives alerts for every subscriber at ``/hooks/<subscriber>``; see the module doc."""

    def __init__(self) -> None:
        self._state = _State()
        super().__init__(_receiver_handler(self._state))

    def secret_for(self, subscriber: str) -> tuple[str, str]:
        """A new secret for a subscriber, known to the receiver; return (url, secret)."""
        path = f"/hooks/{subscriber}"
        secret = new_secret()
        with self._state.lock:
            self._state.secrets[path] = (secret, *self._state.secrets.get(path, ()))
        return f"{self.base_url}{path}", secret

    def arrivals(self) -> list[Arrival]:
        """Every distinct alert so far, in arrival order."""
        with self._state.lock:
            return list(self._state.arrivals)

    def count(self, what: str = "alerts") -> int:
        """alerts, duplicates, verifications or refused."""
        with self._state.lock:
            return self._state.counts[what]


@dataclass(frozen=True, slots=True)
class KeptSpan:
    """What a latency breakdown needs of one exported span."""

    service: str
    name: str
    kind: str
    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    start_ns: int
    end_ns: int


@dataclass
class TraceCounts:
    """What the services exported over OTLP, per service (``service.name``)."""

    bytes: Counter[str] = field(default_factory=Counter)
    """Bytes of the export requests each service sent."""
    spans: Counter[str] = field(default_factory=Counter)
    spans_by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    statements: dict[str, float] = field(default_factory=dict)
    """SQL statements the consumer spans account for, each event its share of its batch's."""
    undecodable: int = 0
    """Trace exports that were not OTLP protobuf (counted in bytes only)."""
    kept: list[KeptSpan] | None = None
    """Every span exported while keeping is on (``OtlpSink.keep_spans``), for a breakdown."""

    def copy(self) -> TraceCounts:
        """A snapshot."""
        return TraceCounts(
            Counter(self.bytes),
            Counter(self.spans),
            {name: Counter(kinds) for name, kinds in self.spans_by_kind.items()},
            dict(self.statements),
            self.undecodable,
        )

    def since(self, earlier: TraceCounts) -> TraceCounts:
        """What was exported after ``earlier``."""
        return TraceCounts(
            self.bytes - earlier.bytes,
            self.spans - earlier.spans,
            {
                name: kinds - earlier.spans_by_kind.get(name, Counter())
                for name, kinds in self.spans_by_kind.items()
            },
            {k: v - earlier.statements.get(k, 0.0) for k, v in self.statements.items()},
            self.undecodable - earlier.undecodable,
        )


_KINDS: Final = {
    0: "unspecified",
    1: "internal",
    2: "server",
    3: "client",
    4: "producer",
    5: "consumer",
}


def _count_traces(body: bytes, counts: TraceCounts) -> None:
    """Count an OTLP/HTTP protobuf trace export's spans by service and kind."""
    request = ExportTraceServiceRequest.FromString(body)
    for resource_spans in request.resource_spans:
        service = next(
            (
                a.value.string_value
                for a in resource_spans.resource.attributes
                if a.key == "service.name"
            ),
            "?",
        )
        counts.bytes[service] += resource_spans.ByteSize()
        kinds = counts.spans_by_kind.setdefault(service, Counter())
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                counts.spans[service] += 1
                kind = _KINDS.get(span.kind, str(span.kind))
                kinds[kind] += 1
                if counts.kept is not None:
                    counts.kept.append(
                        KeptSpan(
                            service,
                            span.name,
                            kind,
                            span.trace_id,
                            span.span_id,
                            span.parent_span_id,
                            span.start_time_unix_nano,
                            span.end_time_unix_nano,
                        )
                    )
                values = {a.key: a.value.int_value for a in span.attributes}
                if "zicht.db.statements" in values:
                    size = values.get("zicht.batch.size") or 1
                    share = values["zicht.db.statements"] / size
                    counts.statements[service] = counts.statements.get(service, 0.0) + share


def _sink_handler(
    counts: Counter[str], traces: TraceCounts, lock: threading.Lock
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it
            """Quiet."""

        def do_POST(self) -> None:
            """Take an export, count its bytes (and a trace export's spans), answer success."""
            length = int(self.headers.get("content-length", "0") or 0)
            body = self.rfile.read(length)
            with lock:
                counts[self.path] += 1
                counts[f"{self.path} bytes"] += length
                if self.path == "/v1/traces":
                    try:
                        _count_traces(body, traces)
                    except Exception:  # noqa: BLE001 - a sink counts what it cannot read
                        traces.undecodable += 1
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


class OtlpSink(_Server):
    """An OTLP/HTTP endpoint that counts what the services export, then discards it."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._traces = TraceCounts()
        self._lock = threading.Lock()
        super().__init__(_sink_handler(self._counts, self._traces, self._lock))

    def counts(self) -> dict[str, int]:
        """Exports and bytes per path (``/v1/traces``, ``/v1/metrics``)."""
        with self._lock:
            return dict(self._counts)

    def traces(self) -> TraceCounts:
        """A snapshot of the spans exported so far, per service."""
        with self._lock:
            return self._traces.copy()

    def keep_spans(self, *, keep: bool) -> list[KeptSpan]:
        """Start keeping every exported span (True), or stop; return those kept so far."""
        with self._lock:
            kept = self._traces.kept or []
            self._traces.kept = [] if keep else None
            return kept
