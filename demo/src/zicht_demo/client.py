"""Zicht's four HTTP APIs as the demo's partners, subscribers and operators call them.

The demo talks to Zicht only over HTTP, like a real partner: no service code is imported.
A service that does not answer raises :class:`ServiceUnavailableError`, whose message is the
one line the command prints; every other answer comes back as an :class:`Answer` to judge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import httpx

from zicht_demo.signals import Submission, SubmissionKind

__all__ = [
    "Answer",
    "ApiError",
    "Endpoints",
    "Keys",
    "KeysError",
    "ServiceUnavailableError",
    "ZichtClient",
    "load_keys",
]

_SUBMIT_PATHS: Final[Mapping[SubmissionKind, str]] = {
    SubmissionKind.IGJ: "/v1/signals/igj",
    SubmissionKind.POLICE: "/v1/signals/police",
    SubmissionKind.ACCESS_TEAM: "/v1/signals/access-team",
}
_OK: Final = 200
_NOT_FOUND: Final = 404
_JSON: Final = "application/json"


class KeysError(Exception):
    """The keys file is missing, unreadable or lacks a key the demo needs."""


class ServiceUnavailableError(Exception):
    """A service did not answer (connection refused, timeout)."""

    def __init__(self, service: str, url: str, reason: str) -> None:
        super().__init__(f"{service} at {url} does not answer ({reason}); is Zicht running?")
        self.service = service
        self.url = url


class ApiError(Exception):
    """A service answered, but not as the demo expected."""

    def __init__(self, service: str, method: str, path: str, answer: Answer) -> None:
        title = answer.problem_title or "unexpected answer"
        super().__init__(f"{service}: {method} {path} answered {answer.status}: {title}")
        self.service = service
        self.answer = answer


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the four services listen."""

    intake: str = "http://127.0.0.1:8001"
    triage: str = "http://127.0.0.1:8002"
    scoring: str = "http://127.0.0.1:8003"
    notify: str = "http://127.0.0.1:8004"

    def of(self, service: str) -> str:
        """The base URL of a service by name."""
        return str(getattr(self, service)).rstrip("/")


@dataclass(frozen=True, slots=True)
class Keys:
    """The API keys the stack wrote for the demo (``--keys FILE``)."""

    igj: str = ""
    police: str = ""
    access_teams: Mapping[str, str] = field(default_factory=dict)
    contract_management: str = ""
    intake_operator: str = ""
    triage_supervisor: str = ""
    scoring_reader: str = ""
    notify_operator: str = ""
    subscribers: Mapping[str, str] = field(default_factory=dict)

    def for_submission(self, submission: Submission) -> str | None:
        """The key a submission is sent with, or None when the file has none for its partner."""
        if submission.kind is SubmissionKind.ACCESS_TEAM:
            return self.access_teams.get(submission.partner_key_name)
        return {SubmissionKind.IGJ: self.igj, SubmissionKind.POLICE: self.police}[
            submission.kind
        ] or None


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    found = raw.get(name, {})
    if not isinstance(found, dict):
        raise KeysError(f"keys file: {name!r} must be an object")
    return found


def _text(section: Mapping[str, Any], name: str) -> str:
    value = section.get(name, "")
    return value if isinstance(value, str) else ""


def _texts(section: Mapping[str, Any], name: str) -> dict[str, str]:
    value = section.get(name, {})
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def load_keys(path: Path) -> Keys:
    """Read the keys file the stack writes.

    Args:
        path: The JSON file: ``{"intake": {...}, "triage": {...}, "scoring": {...},
            "notify": {...}}`` (see the demo's README in the brief).

    Returns:
        The keys; a key the file lacks is empty, and the step that needs it says so.

    Raises:
        KeysError: When the file cannot be read or is not such a JSON object.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeysError(f"cannot read the keys file {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeysError(f"the keys file {path} is not JSON") from exc
    if not isinstance(raw, dict):
        raise KeysError(f"the keys file {path} is not a JSON object")
    intake = _section(raw, "intake")
    notify = _section(raw, "notify")
    return Keys(
        igj=_text(intake, "igj"),
        police=_text(intake, "police"),
        access_teams=_texts(intake, "access_team"),
        contract_management=_text(intake, "contract_management"),
        intake_operator=_text(intake, "operator"),
        triage_supervisor=_text(_section(raw, "triage"), "supervisor"),
        scoring_reader=_text(_section(raw, "scoring"), "reader"),
        notify_operator=_text(notify, "operator"),
        subscribers=_texts(notify, "subscribers"),
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """A service's answer: status and JSON body (None when there was none)."""

    status: int
    body: Any = None

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300  # noqa: PLR2004 - the 2xx range

    @property
    def problem_title(self) -> str:
        """The RFC 9457 problem's title (or detail), when the body is one."""
        if isinstance(self.body, dict):
            return str(self.body.get("title") or self.body.get("detail") or "")
        return ""

    def get(self, name: str) -> Any:
        """A top-level field of a JSON object body, or None."""
        return self.body.get(name) if isinstance(self.body, dict) else None


class ZichtClient:
    """One HTTP client for intake, triage, scoring and notify."""

    def __init__(
        self,
        endpoints: Endpoints,
        keys: Keys,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.keys = keys
        self._http = httpx.AsyncClient(
            timeout=timeout_s,
            transport=transport,
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        key: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer:
        """One request to a service; the answer whatever its status.

        Raises:
            ServiceUnavailableError: When the service does not answer.
        """
        base = self.endpoints.of(service)
        headers = {"Authorization": f"Bearer {key}", "Accept": f"{_JSON}, application/problem+json"}
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode()
            content_type = content_type or _JSON
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            response = await self._http.request(
                method, f"{base}{path}", params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(service, base, type(exc).__name__) from exc
        return _answer_of(response)

    async def expect(
        self,
        service: str,
        method: str,
        path: str,
        key: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> Any:
        """The JSON body of a 2xx answer.

        Raises:
            ApiError: On any other status.
            ServiceUnavailableError: When the service does not answer.
        """
        answer = await self.request(service, method, path, key, params=params, json_body=json_body)
        if not answer.ok:
            raise ApiError(service, method, path, answer)
        return answer.body

    async def not_ready(self) -> dict[str, str]:
        """Each service that does not answer ``/readyz`` with 200, with the reason."""
        found: dict[str, str] = {}
        for service in ("intake", "triage", "scoring", "notify"):
            base = self.endpoints.of(service)
            try:
                response = await self._http.get(f"{base}/readyz")
            except httpx.TransportError as exc:
                found[service] = f"{service} at {base} does not answer ({type(exc).__name__})"
                continue
            if response.status_code != _OK:
                found[service] = f"{service} at {base} is not ready ({response.status_code})"
        return found

    # --- intake -------------------------------------------------------------------------

    async def put_provider(self, provider_id: str, entry: Mapping[str, Any]) -> Answer:
        """Contract management replaces a provider's registry entry."""
        return await self.request(
            "intake",
            "PUT",
            f"/v1/providers/{provider_id}",
            self._need(self.keys.contract_management, "intake.contract_management"),
            json_body=entry,
        )

    async def report_indicators(self, provider_id: str, report: Mapping[str, Any]) -> Answer:
        """Contract management reports barrier-model indicators of a provider."""
        return await self.request(
            "intake",
            "POST",
            f"/v1/providers/{provider_id}/indicators",
            self._need(self.keys.contract_management, "intake.contract_management"),
            json_body=report,
        )

    async def submit(self, submission: Submission, key: str) -> Answer:
        """A partner sends a submission with its key."""
        return await self.request(
            "intake",
            "POST",
            _SUBMIT_PATHS[submission.kind],
            key,
            content=submission.body,
            content_type=submission.content_type,
        )

    async def submissions(self, *, limit: int = 500, provider_id: str | None = None) -> list[Any]:
        """Intake's submissions, newest first (operator key)."""
        params: dict[str, str | int] = {"limit": limit}
        if provider_id is not None:
            params["provider_id"] = provider_id
        body = await self.expect(
            "intake", "GET", "/v1/submissions", self._operator(), params=params
        )
        return _list(body, "submissions")

    async def submission(self, submission_id: str) -> dict[str, Any] | None:
        """One submission with a result per item (operator key); None when unknown."""
        answer = await self.request(
            "intake", "GET", f"/v1/submissions/{submission_id}", self._operator()
        )
        return _object_or_none("intake", f"/v1/submissions/{submission_id}", answer)

    # --- triage -------------------------------------------------------------------------

    async def assessment(self, signal_id: str) -> dict[str, Any] | None:
        """Triage's current decision about a signal, with rules and inputs; None if none yet."""
        path = f"/v1/signals/{signal_id}/assessment"
        answer = await self.request("triage", "GET", path, self._supervisor())
        return _object_or_none("triage", path, answer)

    async def investigations(
        self, *, state: str | None = "open", provider_id: str | None = None
    ) -> list[Any]:
        """Investigations, newest first (supervisor key)."""
        params: dict[str, str | int] = {"limit": 500}
        if state is not None:
            params["state"] = state
        if provider_id is not None:
            params["provider_id"] = provider_id
        body = await self.expect(
            "triage", "GET", "/v1/investigations", self._supervisor(), params=params
        )
        return _list(body, "investigations")

    # --- scoring ------------------------------------------------------------------------

    async def risk_register(self, *, level: str | None = None, limit: int = 1000) -> list[Any]:
        """Providers by traffic light and score, highest risk first."""
        params: dict[str, str | int] = {"limit": limit}
        if level is not None:
            params["level"] = level
        key = self._need(self.keys.scoring_reader, "scoring.reader")
        body = await self.expect("scoring", "GET", "/v1/providers", key, params=params)
        return _list(body, "providers")

    async def provider_risk(self, provider_id: str) -> dict[str, Any] | None:
        """A provider's score with its contributions and history; None when not scored."""
        path = f"/v1/providers/{provider_id}/risk"
        key = self._need(self.keys.scoring_reader, "scoring.reader")
        return _object_or_none("scoring", path, await self.request("scoring", "GET", path, key))

    # --- notify -------------------------------------------------------------------------

    def subscriber_key(self, subscriber_id: str) -> str | None:
        """The subscriber's notify key, if the keys file has one."""
        return self.keys.subscribers.get(subscriber_id) or None

    async def subscriptions(self, key: str) -> list[Any]:
        """The subscriber's own subscriptions."""
        body = await self.expect("notify", "GET", "/v1/subscriptions", key)
        return _list(body, "subscriptions")

    async def create_subscription(
        self, key: str, url: str, description: str, secret: str
    ) -> dict[str, Any]:
        """A new subscription signed with the subscriber's own ``secret`` (verified at once)."""
        body = await self.expect(
            "notify",
            "POST",
            "/v1/subscriptions",
            key,
            json_body={"url": url, "description": description, "secret": secret},
        )
        return _object("notify", body)

    async def update_subscription(
        self, key: str, subscription_id: str, url: str, secret: str
    ) -> None:
        """Point a subscription at ``url`` with a new ``secret`` of ours, and resume it."""
        await self.expect(
            "notify",
            "PATCH",
            f"/v1/subscriptions/{subscription_id}",
            key,
            json_body={"url": url, "secret": secret, "paused": False},
        )

    async def delete_subscription(self, key: str, subscription_id: str) -> None:
        """Delete a subscription."""
        await self.expect("notify", "DELETE", f"/v1/subscriptions/{subscription_id}", key)

    async def deliveries(
        self, state: str, *, provider_id: str | None = None, limit: int = 1000
    ) -> list[Any]:
        """Alerts in a delivery state (operator key), newest first, as notify lists them.

        ``provider_id`` is passed on as the filter; a notify that ignores it returns alerts
        about other providers too, so callers check each alert's ``provider_id``.
        """
        params: dict[str, str | int] = {"state": state, "limit": limit}
        if provider_id is not None:
            params["provider_id"] = provider_id
        key = self._need(self.keys.notify_operator, "notify.operator")
        body = await self.expect("notify", "GET", "/v1/deliveries", key, params=params)
        return _list(body, "deliveries")

    async def flow(self, service: str, since: float) -> dict[str, Any]:
        """The service's ``GET /v1/ops/flow`` from ``since`` (seconds since the epoch) to now.

        What the reconciliation reads; intake's and notify's operator keys only.
        """
        key = self._need(
            {"intake": self.keys.intake_operator, "notify": self.keys.notify_operator}.get(
                service, ""
            ),
            f"{service}.operator",
        )
        moment = datetime.fromtimestamp(since, tz=UTC).isoformat()
        body = await self.expect(service, "GET", "/v1/ops/flow", key, params={"since": moment})
        return _object(service, body)

    # --- keys ---------------------------------------------------------------------------

    def _operator(self) -> str:
        return self._need(self.keys.intake_operator, "intake.operator")

    def _supervisor(self) -> str:
        return self._need(self.keys.triage_supervisor, "triage.supervisor")

    @staticmethod
    def _need(key: str, name: str) -> str:
        if not key:
            raise KeysError(f"the keys file has no {name} key")
        return key


def _answer_of(response: httpx.Response) -> Answer:
    if not response.content:
        return Answer(response.status_code)
    try:
        return Answer(response.status_code, response.json())
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Answer(response.status_code, {"detail": response.text[:200]})


def _list(body: Any, name: str) -> list[Any]:
    found = body.get(name) if isinstance(body, dict) else None
    return list(found) if isinstance(found, list) else []


def _object(service: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(service, "?", "?", Answer(_OK, body))
    return body


def _object_or_none(service: str, path: str, answer: Answer) -> dict[str, Any] | None:
    if answer.status == _NOT_FOUND:
        return None
    if not answer.ok:
        raise ApiError(service, "GET", path, answer)
    return _object(service, answer.body)
