"""Write each service's OpenAPI document to docs/openapi/<service>.json (``make docs``)."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "openapi"


def documents() -> dict[str, dict[str, Any]]:
    """The OpenAPI document of every service, built from its app without starting it."""
    from zicht_intake.app import create_app as intake  # noqa: PLC0415
    from zicht_intake.config import IntakeSettings  # noqa: PLC0415
    from zicht_notify.app import create_app as notify  # noqa: PLC0415
    from zicht_notify.config import NotifySettings  # noqa: PLC0415
    from zicht_scoring.app import create_app as scoring  # noqa: PLC0415
    from zicht_scoring.config import ScoringSettings  # noqa: PLC0415
    from zicht_triage.app import create_app as triage  # noqa: PLC0415
    from zicht_triage.config import TriageSettings  # noqa: PLC0415

    apps = {
        "intake": intake(
            # The document needs no real key; intake refuses to be built without one.
            IntakeSettings(_env_file=None, pseudonym_key=secrets.token_urlsafe(48))
        ),
        "triage": triage(TriageSettings(_env_file=None)),
        "scoring": scoring(ScoringSettings(_env_file=None)),
        "notify": notify(
            # Likewise notify, without a key to seal webhook secrets with.
            NotifySettings(_env_file=None, webhook_secret_keys=f"doc:{secrets.token_urlsafe(32)}")
        ),
    }
    return {name: app.openapi() for name, app in apps.items()}


def render(document: dict[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    """Write the documents; print what changed."""
    TARGET.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        path = TARGET / f"{name}.json"
        text = render(document)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
