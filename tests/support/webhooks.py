"""A real webhook receiver on 127.0.0.1 for connected tests, careful as a subscriber's must be.

Alerts are recorded with the status they were answered, as planned per path (``answers``) or
``default_status``. Notify's verification deliveries (one correctly signed, one wrongly) are
answered as planned in ``check_answers``, else checked with the path's secret by the
``standardwebhooks`` library: 204 when the signature verifies, 401 when not; a path in
``careless`` accepts any signature, as a receiver that forgot to check would. ``delay_s`` makes
it a slow receiver (alerts are answered after that long), and ``serve_receiver(state)`` serves
an earlier receiver's state again on its port, so a test can take it down (connections
refused) and bring it back with what it saw so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from zicht_devtools.devstack import find_free_port
from zicht_notify.domain import VERIFICATION_EVENT_TYPE

__all__ = ["Receiver", "serve_receiver"]


@dataclass
class Receiver:
    """What the receiver saw, and how the test wants it to answer."""

    port: int
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    answered: list[tuple[str, str, int]] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    default_status: int = 204
    secrets: dict[str, str] = field(default_factory=dict)
    careless: set[str] = field(default_factory=set)
    check_answers: dict[str, list[int]] = field(default_factory=dict)
    checks: list[tuple[str, str, int]] = field(default_factory=list)
    delay_s: float = 0.0

    def url(self, path: str) -> str:
        """The URL of a path on this receiver."""
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[tuple[dict[str, str], bytes]]:
        """The alerts that arrived at a path (every attempt), in order."""
        return [(h, b) for p, h, b in self.received if p == path]

    def accepted(self, path: str | None = None) -> list[str]:
        """The webhook-ids answered 2xx (at ``path``, or anywhere)."""
        return [
            webhook_id
            for p, webhook_id, status in self.answered
            if 200 <= status < 300 and (path is None or p == path)
        ]

    def _check(self, path: str, headers: dict[str, str], body: bytes) -> int:
        planned = self.check_answers.get(path)
        if planned:
            return planned.pop(0)
        if path in self.careless:
            return 204
        secret = self.secrets.get(path)
        if secret is None:
            return 404
        try:
            Webhook(secret).verify(body, headers)
        except WebhookVerificationError:
            return 401
        return 204

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        path, headers = request.url.path, dict(request.headers)
        if json.loads(body).get("type") == VERIFICATION_EVENT_TYPE:
            status = self._check(path, headers, body)
            self.checks.append((path, headers["webhook-id"], status))
            return Response(status_code=status)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        self.received.append((path, headers, body))
        planned = self.answers.get(path)
        status = planned.pop(0) if planned else self.default_status
        self.answered.append((path, headers["webhook-id"], status))
        retry = {"Retry-After": "0"} if status in {429, 503} else {}
        return Response(status_code=status, headers=retry)


@contextlib.asynccontextmanager
async def serve_receiver(state: Receiver | None = None) -> AsyncIterator[Receiver]:
    """Run a receiver on a free loopback port (or ``state``'s, again) until the block ends."""
    state = state or Receiver(find_free_port())
    app = Starlette(routes=[Route("/{path:path}", state._hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=state.port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
