"""Partners' API keys are managed on the command line: create, list, revoke."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from intake.integration.support import Intake

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _keys(intake: Intake, *args: str) -> tuple[int, str, str]:
    env = {**os.environ, "ZICHT_DATABASE_URL": intake.database_url, "ZICHT_LOG_LEVEL": "WARNING"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zicht_intake", "keys", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_a_key_made_on_the_command_line_works_until_it_is_revoked(intake: Intake) -> None:
    code, out, _ = await _keys(intake, "create", "--party", "police-noord", "--role", "police")
    assert code == 0
    secret = out.strip()
    headers = {"Authorization": f"Bearer {secret}"}

    allowed = await intake.client.get("/v1/submissions", headers=headers)
    as_igj = await intake.client.post(
        "/v1/signals/igj", content=b"{}", headers={**headers, "Content-Type": "application/json"}
    )
    _, listing, _ = await _keys(intake, "list", "--party", "police-noord", "--json")
    [listed] = [json.loads(line) for line in listing.splitlines()]
    revoked, _, _ = await _keys(intake, "revoke", listed["key_id"])
    after = await intake.client.get("/v1/submissions", headers=headers)
    again, _, err = await _keys(intake, "revoke", listed["key_id"])

    assert allowed.status_code == 200
    assert as_igj.status_code == 403
    assert listed["scopes"] == ["signals:police"]
    assert secret not in listing
    assert revoked == 0
    assert after.status_code == 401
    assert again == 1
    assert "no active key" in err
