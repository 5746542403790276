"""Schemathesis against the OpenAPI of triage, scoring and notify: no input gets a 500.

Each service runs in-process on real Postgres and the broker and is served over loopback; the
fuzzer calls it with the key of the broadest scopes the service hands out, so every route is
reached past its gate. (Intake's own run is in ``tests/intake/integration``.)

NUL characters are not generated: a NUL in a string that reaches Postgres is a 500 today in all
four services, pinned down input by input in ``test_security_nul_character.py``. Turn them
back on (``--generation-allow-x00 true``) once those pass. The open routes (health, metrics)
take no input and are left out to spend the examples where input is read.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from security.support import Running, serve

# The services come through getfixturevalue, which the automatic connected marking cannot see.
pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.connected]

EXAMPLES = 10
"""Examples per operation and phase: enough to reach the branches of the small schemas here
while keeping three runs inside the package's time budget (about 20 seconds each)."""


@pytest.mark.parametrize("service", ["triage", "scoring", "notify"], indirect=True)
async def test_schemathesis_finds_no_server_error_in_the_openapi(
    service: Running, tmp_path: Path
) -> None:
    async with serve(service.app) as base:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "schemathesis.cli", "run", f"{base}/openapi.json",
            "--checks", "not_a_server_error",
            "--max-examples", str(EXAMPLES), "--phases", "fuzzing,stateful",
            "--generation-allow-x00", "false",
            "--exclude-path-regex", "^/(healthz|readyz|metrics)$",
            "--workers", "2",
            # Generation speed is the machine's business, not the API's: on a loaded CI
            # runner Hypothesis's "too slow" check would fail a run that found nothing.
            "--suppress-health-check", "too_slow",
            "--header", f"Authorization: Bearer {service.keys['all']}",
            "--seed", "1", "--no-color",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
        try:
            output, _ = await asyncio.wait_for(process.communicate(), timeout=240)
        finally:
            if process.returncode is None:  # timed out: leave no fuzzer behind
                process.kill()
                await process.wait()
    text = output.decode()
    assert process.returncode == 0, text[-4000:]
