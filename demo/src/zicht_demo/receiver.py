"""A local webhook receiver standing in for the municipalities, casus tables and IGJ.

Each subscriber has its own path (``/hooks/GM0153``, ``/hooks/cct-twente``, ``/hooks/igj``)
and its own secret. Every ``POST`` is checked as the Standard Webhooks specification says:
``webhook-signature`` holds one or more space-separated ``v1,<base64>`` signatures, each an
HMAC-SHA256 of ``"{webhook-id}.{webhook-timestamp}.{body}"`` under the base64-decoded secret
(the part after ``whsec_``); one matching signature suffices (a rotated secret signs beside the
new one for a while). A bad or missing signature, or a timestamp too far from now, is a 401;
a ``webhook-id`` seen before is acknowledged again and counted as a duplicate, so a retry never
counts as a second alert. Notify's verification deliveries (type
``nl.zorgtoezicht.webhook.verification.v1``: once correctly signed, once wrongly) get the same
check and are counted apart, never as alerts or bad signatures. ``GET /stats`` answers what
arrived, as JSON.

It is the standard library's threading HTTP server on 127.0.0.1, in a thread of its own, so
the demo's event loop never waits for it and it needs no web framework.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self

__all__ = [
    "AlertSeen",
    "ReceiverStats",
    "WebhookReceiver",
    "new_secret",
    "sign",
    "verify",
]

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SIGNATURE_VERSION: Final = "v1"
DEFAULT_TOLERANCE_S: Final = 300
MAX_BODY_BYTES: Final = 1024 * 1024
LAST_ALERTS: Final = 20
_HOST: Final = "127.0.0.1"
VERIFICATION_TYPE: Final = "nl.zorgtoezicht.webhook.verification.v1"
_SECRET_BYTES: Final = 32


def new_secret() -> str:
    """A subscriber's own signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(_SECRET_BYTES)).decode()


def _secret_bytes(secret: str) -> bytes:
    # Padding added as the reference library does: a secret may come without it.
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for a message (one ``v1,`` signature).

    Args:
        secret: The subscription's secret, ``whsec_<base64>``.
        webhook_id: The ``webhook-id`` header.
        timestamp: The ``webhook-timestamp`` header, Unix seconds.
        body: The exact request body.

    Returns:
        ``v1,<base64 HMAC-SHA256>``.
    """
    content = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_bytes(secret), content, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(
    secrets: tuple[str, ...],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> str | None:
    """Why a webhook fails verification, or None when one of its signatures is good.

    Args:
        secrets: The secrets the sender may sign with (``whsec_<base64>``).
        headers: The request headers, names in lower case.
        body: The exact request body.
        now: The current Unix time (default: the clock).
        tolerance_s: How far the timestamp may be from now, either way.

    Returns:
        None for a good message, else a short reason.
    """
    webhook_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (webhook_id and stamp and signatures):
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    if not stamp.isascii() or not stamp.isdigit():
        return "webhook-timestamp is not Unix seconds"
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance_s:
        return "webhook-timestamp too far from now"
    for secret in secrets:
        try:
            expected = sign(secret, webhook_id, int(stamp), body)
        except binascii.Error:
            continue
        if any(hmac.compare_digest(candidate, expected) for candidate in signatures.split()):
            return None
    return "no valid signature"


@dataclass(frozen=True, slots=True)
class AlertSeen:
    """One alert that arrived, as the view lists it."""

    recipient: str
    webhook_id: str
    received_at: str
    type: str
    subject: str
    summary: str

    def as_json(self) -> dict[str, str]:
        """The alert as a JSON object."""
        return {
            "recipient": self.recipient,
            "webhook_id": self.webhook_id,
            "received_at": self.received_at,
            "type": self.type,
            "subject": self.subject,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class ReceiverStats:
    """What the receiver saw so far."""

    total: int
    per_recipient: Mapping[str, int]
    duplicates: int
    bad_signatures: int
    unknown_paths: int
    last_alerts: tuple[AlertSeen, ...]
    verifications: int = 0
    first_alert_at: float | None = None
    """When the first alert arrived (seconds since the epoch); None before."""

    def as_json(self) -> dict[str, Any]:
        """The stats as ``GET /stats`` answers them."""
        return {
            "total": self.total,
            "per_recipient": dict(self.per_recipient),
            "duplicates": self.duplicates,
            "bad_signatures": self.bad_signatures,
            "unknown_paths": self.unknown_paths,
            "verifications": self.verifications,
            "first_alert_at": self.first_alert_at,
            "last_alerts": [alert.as_json() for alert in self.last_alerts],
        }


@dataclass
class _State:
    """The receiver's counters, shared by the request threads under one lock."""

    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    seen_ids: set[str] = field(default_factory=set)
    per_recipient: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    bad_signatures: int = 0
    unknown_paths: int = 0
    verifications: int = 0
    first_alert_at: float | None = None
    last: deque[AlertSeen] = field(default_factory=lambda: deque(maxlen=LAST_ALERTS))
    lock: threading.Lock = field(default_factory=threading.Lock)


def _summary(body: bytes) -> tuple[str, str, str]:
    """Type, subject and a one-line summary of a structured CloudEvent, as far as readable."""
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return "", "", "not JSON"
    if not isinstance(event, dict):
        return "", "", "not a CloudEvent"
    found = event.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    parts = [
        f"{key} {data[key]}"
        for key in ("level", "previous_level", "outcome", "priority", "score")
        if key in data and not isinstance(data[key], dict | list)
    ]
    return str(event.get("type", "")), str(event.get("subject", "")), ", ".join(parts)


def _handler(state: _State, tolerance_s: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        """Answers webhooks and ``GET /stats``."""

        server_version = "zicht-demo-receiver"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it
            """Quiet: the view shows what arrived; a line per request would tear it."""

        def do_GET(self) -> None:
            """``GET /stats``: the counters as JSON."""
            if self.path.split("?")[0].rstrip("/") != "/stats":
                self._answer(HTTPStatus.NOT_FOUND, {"detail": "only /stats is here"})
                return
            self._answer(HTTPStatus.OK, _snapshot(state).as_json())

        def do_POST(self) -> None:
            """A webhook: verify, count, acknowledge."""
            recipient = self.path.split("?")[0]
            length = self.headers.get("content-length", "")
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                self._answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"detail": "body too large"})
                return
            body = self.rfile.read(int(length))
            headers = {name.lower(): value for name, value in self.headers.items()}
            with state.lock:
                secrets = state.secrets.get(recipient)
                if secrets is None:
                    state.unknown_paths += 1
            if secrets is None:
                self._answer(HTTPStatus.NOT_FOUND, {"detail": "no subscriber at this path"})
                return
            reason = verify(secrets, headers, body, tolerance_s=tolerance_s)
            checking = _summary(body)[0] == VERIFICATION_TYPE
            if reason is not None:
                if not checking:  # the check's wrongly signed half is refused, as asked
                    with state.lock:
                        state.bad_signatures += 1
                self._answer(HTTPStatus.UNAUTHORIZED, {"detail": reason})
                return
            if checking:
                with state.lock:
                    state.verifications += 1
            else:
                self._count(recipient, headers["webhook-id"], body)
            self.send_response(HTTPStatus.NO_CONTENT)
            self.end_headers()

        def _count(self, recipient: str, webhook_id: str, body: bytes) -> None:
            kind, subject, summary = _summary(body)
            with state.lock:
                if webhook_id in state.seen_ids:
                    state.duplicates += 1
                    return
                state.seen_ids.add(webhook_id)
                if state.first_alert_at is None:
                    state.first_alert_at = time.time()
                state.per_recipient[recipient] += 1
                state.last.appendleft(
                    AlertSeen(
                        recipient=recipient,
                        webhook_id=webhook_id,
                        received_at=datetime.now(tz=UTC).isoformat(timespec="seconds"),
                        type=kind,
                        subject=subject,
                        summary=summary,
                    )
                )

        def _answer(self, status: HTTPStatus, payload: Mapping[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _snapshot(state: _State) -> ReceiverStats:
    with state.lock:
        return ReceiverStats(
            total=sum(state.per_recipient.values()),
            per_recipient=dict(state.per_recipient),
            duplicates=state.duplicates,
            bad_signatures=state.bad_signatures,
            unknown_paths=state.unknown_paths,
            last_alerts=tuple(state.last),
            verifications=state.verifications,
            first_alert_at=state.first_alert_at,
        )


class WebhookReceiver:
    """The local receiver: start it, give it each subscriber's secret, read its stats.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, port: int = 0, *, tolerance_s: float = DEFAULT_TOLERANCE_S) -> None:
        self._state = _State()
        self._server = ThreadingHTTPServer((_HOST, port), _handler(self._state, tolerance_s))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the OS chose when asked for 0)."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{_HOST}:{self.port}"

    def url_for(self, path: str) -> str:
        """The full URL of a path on this receiver."""
        return f"{self.base_url}{path}"

    def add_secret(self, path: str, secret: str) -> None:
        """Accept webhooks at ``path`` signed with ``secret`` (newest first; older ones stay).

        Args:
            path: The subscriber's path, e.g. ``/hooks/GM0153``.
            secret: The subscription's secret, ``whsec_<base64>``.
        """
        with self._state.lock:
            known = self._state.secrets.get(path, ())
            self._state.secrets[path] = (secret, *(s for s in known if s != secret))

    def stats(self) -> ReceiverStats:
        """A snapshot of what arrived."""
        return _snapshot(self._state)

    def start(self) -> None:
        """Serve in a background thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="zicht-demo-receiver",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
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
