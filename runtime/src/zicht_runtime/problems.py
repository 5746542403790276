"""RFC 9457 problem details: every refusal over HTTP is ``application/problem+json``.

A service raises :class:`Problem`; :func:`install_problem_handlers` turns it, FastAPI's own
validation errors and unknown routes into problem answers. A problem never echoes a refused
value: only where (a JSON Pointer, a row and column) and why.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "PROBLEM_CONTENT_TYPE",
    "Problem",
    "ProblemBody",
    "ProblemItem",
    "inline_refs",
    "install_problem_handlers",
    "problem_responses",
]

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
_TYPE_PREFIX = "urn:zicht:problem:"


class ProblemItem(BaseModel):
    """One thing wrong with a request: where, which rule, and a fixed explanation."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Rejection code (e.g. missing_field, invalid_value).")
    detail: str = Field(description="Why, in words; never the refused value.")
    pointer: str | None = Field(default=None, description="RFC 6901 pointer into the body.")
    row: int | None = Field(
        default=None,
        description="CSV row as a spreadsheet shows it (the header is row 1, data from 2).",
    )
    column: str | None = Field(default=None, description="CSV column name.")
    header: str | None = Field(default=None, description="HTTP request header name.")


class ProblemBody(BaseModel):
    """The RFC 9457 body Zicht answers with; extension members follow the standard ones."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URN naming the kind of problem.")
    title: str = Field(description="A short, fixed summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What happened in this case.")
    instance: str | None = Field(default=None, description="The request path or submission.")
    errors: list[ProblemItem] = Field(default_factory=list, description="Each fault found.")


@dataclass
class Problem(Exception):  # noqa: N818  # an RFC 9457 "problem", raised as an answer
    """Raise to answer with a problem; ``kind`` becomes ``urn:zicht:problem:<kind>``."""

    status: int
    kind: str
    title: str
    detail: str | None = None
    errors: Sequence[Mapping[str, Any]] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.title)

    def body(self, instance: str | None) -> dict[str, Any]:
        """The JSON body of this problem."""
        body: dict[str, Any] = {
            "type": _TYPE_PREFIX + self.kind,
            "title": self.title,
            "status": self.status,
        }
        if self.detail is not None:
            body["detail"] = self.detail
        body["instance"] = instance
        body.update(self.extensions)
        body["errors"] = [{k: v for k, v in item.items() if v is not None} for item in self.errors]
        return body

    def response(self, instance: str | None) -> JSONResponse:
        """The HTTP answer of this problem."""
        return JSONResponse(
            self.body(instance),
            status_code=self.status,
            media_type=PROBLEM_CONTENT_TYPE,
            headers=dict(self.headers),
        )


_STATUS_KINDS = {
    400: ("malformed-payload", "The request could not be read"),
    401: ("unauthenticated", "No valid API key"),
    403: ("forbidden", "This key may not do this"),
    404: ("not-found", "No such resource"),
    405: ("method-not-allowed", "This method is not allowed here"),
    406: ("not-acceptable", "No acceptable representation"),
    409: ("conflict", "The request conflicts with what is stored"),
    413: ("too-large", "The request body is too large"),
    415: ("unsupported-media-type", "The content type is not accepted here"),
    422: ("invalid-submission", "The request does not match the agreed format"),
    429: ("too-many-requests", "Too many requests"),
    503: ("unavailable", "The service cannot do this now; retry later"),
}


def _pointer(loc: Sequence[int | str]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc[1:]]
    return "/" + "/".join(parts) if parts else ""


def _validation_items(exc: RequestValidationError) -> list[dict[str, Any]]:
    items = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        kind = str(error.get("type", ""))
        code = "missing_field" if kind == "missing" else "invalid_value"
        if kind.startswith("json_") or (kind == "model_attributes_type" and not loc[1:]):
            code = "malformed_payload"
        where = loc[0] if loc else "body"
        item: dict[str, Any] = {"code": code, "detail": _fixed_detail(kind)}
        if where == "body":
            item["pointer"] = _pointer(loc)
        else:
            item["parameter"] = ".".join(str(p) for p in loc[1:]) or str(where)
            item["in"] = str(where)
        items.append(item)
    return items


def _fixed_detail(kind: str) -> str:
    """A fixed explanation per pydantic error type: pydantic's own messages can echo input."""
    details = {
        "missing": "this field is required",
        "extra_forbidden": "this field is not part of the format",
        "json_invalid": "the body is not valid JSON",
        "json_type": "the body is not valid JSON",
        "string_too_long": "too long",
        "string_too_short": "too short",
        "string_pattern_mismatch": "does not have the required form",
        "enum": "not one of the allowed codes",
        "literal_error": "not one of the allowed values",
        "uuid_parsing": "not a UUID",
        "uuid_type": "not a UUID",
    }
    if kind in details:
        return details[kind]
    if kind.endswith(("_type", "_parsing")):
        return "wrong type: " + kind.removesuffix("_type").removesuffix("_parsing")
    return "invalid value (" + kind + ")"


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every refusal of the app, including FastAPI's own, as problem details."""

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return exc.response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        items = _validation_items(exc)
        malformed = any(i["code"] == "malformed_payload" for i in items)
        status = 400 if malformed else 422
        kind, title = _STATUS_KINDS[status]
        count = len(items)
        problem = Problem(
            status,
            kind,
            title,
            detail=f"{count} invalid field(s); nothing was accepted.",
            errors=items,
        )
        return problem.response(request.url.path)

    @app.exception_handler(asyncpg.CharacterNotInRepertoireError)
    @app.exception_handler(asyncpg.UntranslatableCharacterError)
    async def on_unstorable_text(request: Request, _exc: Exception) -> JSONResponse:
        # Postgres text cannot hold U+0000: a value with one fails at the query, whose
        # transaction is rolled back. The caller sent it; the answer says so, not 500.
        problem = Problem(
            400,
            "malformed-payload",
            "The request holds text that cannot be stored",
            detail="Text must not contain the NUL character (U+0000); nothing was accepted.",
            errors=[
                {
                    "code": "invalid_character",
                    "detail": "a text value contains the NUL character (U+0000)",
                }
            ],
        )
        return problem.response(request.url.path)

    @app.exception_handler(asyncpg.PostgresConnectionError)
    @app.exception_handler(asyncpg.InterfaceError)
    @app.exception_handler(asyncpg.CannotConnectNowError)
    @app.exception_handler(asyncpg.TooManyConnectionsError)
    @app.exception_handler(asyncpg.AdminShutdownError)
    @app.exception_handler(asyncpg.CrashShutdownError)
    @app.exception_handler(ConnectionError)
    async def on_database_away(request: Request, exc: Exception) -> JSONResponse:
        # The database restarting or out of reach passes: say so and when to ask again,
        # rather than a bare 500 that reads as a fault of the request.
        log.warning("answering 503: the database is not reachable (%s)", type(exc).__name__)
        problem = Problem(
            503,
            "unavailable",
            "The service cannot reach its database now; retry later",
            detail="The request could not be completed. Retry with backoff.",
            headers={"Retry-After": "5"},
        )
        return problem.response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind, title = _STATUS_KINDS.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        problem = Problem(
            exc.status_code, kind, title, detail=detail, headers=dict(exc.headers or {})
        )
        return problem.response(request.url.path)


def inline_refs(schema: Any, defs: dict[str, Any] | None = None) -> Any:
    """A JSON Schema with its local ``#/$defs/...`` references replaced by what they name.

    An OpenAPI document resolves ``#/...`` against itself, so a schema embedded in it must
    not refer to its own ``$defs`` (the schemas here are not recursive).
    """
    if defs is None and isinstance(schema, dict):
        defs = schema.get("$defs", {})
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and defs is not None:
            target = inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
            rest = {k: inline_refs(v, defs) for k, v in schema.items() if k != "$ref"}
            return {**target, **rest}
        return {
            k: inline_refs(v, defs)
            for k, v in schema.items()
            if k not in {"$defs", "$schema", "$id"}
        }
    if isinstance(schema, list):
        return [inline_refs(item, defs) for item in schema]
    return schema


_PROBLEM_SCHEMA = inline_refs(ProblemBody.model_json_schema())


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem answers a route can give."""
    return {
        status: {
            "description": _STATUS_KINDS.get(status, ("", "Problem"))[1],
            "content": {PROBLEM_CONTENT_TYPE: {"schema": _PROBLEM_SCHEMA}},
        }
        for status in statuses
    }
