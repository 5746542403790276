"""The interactive API pages load their scripts from a public CDN: off unless a setting asks."""

from __future__ import annotations

from fastapi.testclient import TestClient

from zicht_runtime.kit import ServiceKit, create_service_app
from zicht_runtime.settings import ServiceSettings


def _paths(*, api_docs: bool | None = None) -> dict[str, int]:
    settings = ServiceSettings(service_name="kit-test")
    if api_docs is not None:
        settings = settings.model_copy(update={"api_docs": api_docs})
    kit = ServiceKit(settings=settings, global_telemetry=False)
    app = create_service_app(kit, title="kit test")
    # No lifespan: the pages and the document need neither Postgres nor the broker.
    client = TestClient(app)
    return {path: client.get(path).status_code for path in ("/docs", "/redoc", "/openapi.json")}


def test_the_api_pages_are_off_by_default_and_the_api_document_is_served() -> None:
    assert _paths() == {"/docs": 404, "/redoc": 404, "/openapi.json": 200}


def test_the_api_pages_are_served_when_the_setting_asks() -> None:
    assert _paths(api_docs=True) == {"/docs": 200, "/redoc": 200, "/openapi.json": 200}
