"""Refusals made before a request's body is read: no key, or a body over the limit.

FastAPI reads and parses a JSON body before the route's dependencies run, so without this a
caller without a key could make a service buffer and parse any amount of data, and would be
told its JSON is malformed before being told it has no key. This ASGI middleware answers
first: a request to the API (``/v1/...``) without a well-formed bearer key gets the same 401
problem the key check gives, and a body over the limit gets a 413 problem, whether its length
is declared or it streams past the limit. The limit is ``max_body_bytes``, or the lower one a
route declares through ``body_limit`` (method and path to bytes), so the answer names the limit
the route really has. The key itself is checked by the routes, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zicht_runtime.auth import UNAUTHENTICATED_HEADERS, bearer_key
from zicht_runtime.problems import Problem

__all__ = ["BodyLimit", "RequestGuard", "too_large"]

_API_PREFIX: Final = "/v1/"


class _TooLarge(Exception):  # noqa: N818  # a signal inside the middleware, never raised out
    """The body streamed past the limit."""


BodyLimit = Callable[[str, str], int | None]
"""A route's own body limit in bytes, by request method and path; None: the app's limit."""


def too_large(limit: int) -> Problem:
    """The 413 problem for a body over ``limit`` bytes, naming the limit."""
    return Problem(
        413,
        "too-large",
        "The request body is too large",
        detail=f"The limit is {limit} bytes.",
        errors=[{"code": "invalid_value", "detail": "body over the size limit"}],
        extensions={"limit_bytes": limit},
    )


def _has_key(value: bytes | None) -> bool:
    return value is not None and bearer_key(value.decode("latin-1")) is not None


class RequestGuard:
    """ASGI middleware: 401 without a key and 413 over the limit, before the body is read."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, body_limit: BodyLimit | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limit = body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer it here."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if scope["path"].startswith(_API_PREFIX) and not _has_key(headers.get(b"authorization")):
            await self._answer(scope, send, _unauthenticated())
            return
        limit = self.max_body_bytes
        if self.body_limit is not None:
            own = self.body_limit(str(scope.get("method", "")), str(scope["path"]))
            limit = limit if own is None else min(own, limit)
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > limit:
            await self._answer(scope, send, too_large(limit))
            return
        received = 0
        over = False  # the body streamed past the limit: whatever the app answers, it is a 413
        answered = False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal answered
            if not over:
                await send(message)
            elif not answered:
                answered = True
                await self._answer(scope, send, too_large(limit))

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, watched)
        if over and not answered:
            await self._answer(scope, send, too_large(limit))

    async def _answer(self, scope: Scope, send: Send, problem: Problem) -> None:
        response = problem.response(str(scope["path"]))
        await response(scope, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _unauthenticated() -> Problem:
    return Problem(
        401,
        "unauthenticated",
        "No valid API key",
        detail="Send an active API key as 'Authorization: Bearer <key>'.",
        headers=UNAUTHENTICATED_HEADERS,
    )
