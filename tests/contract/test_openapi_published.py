"""The OpenAPI documents in docs/openapi/ are the services' own (``make docs`` writes them)."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("openapi_script", ROOT / "scripts" / "openapi.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_services_openapi_document_is_published_and_current() -> None:
    script = _script()
    stale = [
        name
        for name, document in script.documents().items()
        if not (ROOT / "docs" / "openapi" / f"{name}.json").exists()
        or (ROOT / "docs" / "openapi" / f"{name}.json").read_text(encoding="utf-8")
        != script.render(document)
    ]
    assert not stale, f"run `make docs` and commit docs/openapi/: stale {stale}"


def test_intake_documents_each_partner_endpoint_with_its_problems() -> None:
    intake = _script().documents()["intake"]
    paths = intake["paths"]
    for path in ("/v1/signals/igj", "/v1/signals/police", "/v1/signals/access-team",
                 "/v1/providers/{provider_id}", "/v1/submissions/{submission_id}"):  # fmt: skip
        assert path in paths
    igj = paths["/v1/signals/igj"]["post"]
    assert "zaaknummer" in igj["requestBody"]["content"]["application/json"]["schema"]["required"]
    assert "application/problem+json" in igj["responses"]["422"]["content"]
