"""Intake has no built-in pseudonym key: it refuses to start without one of its own."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from zicht_intake.app import PseudonymKeyError, create_service
from zicht_intake.config import PUBLIC_PSEUDONYM_KEYS, IntakeSettings

SYNTHETIC_BSN = "111222333"  # passes the 11-check; invented


def _settings(key: str | None) -> IntakeSettings:
    return IntakeSettings(_env_file=None, pseudonym_key=None if key is None else SecretStr(key))


def test_intake_without_a_pseudonym_key_refuses_to_be_built_and_says_how_to_set_one() -> None:
    with pytest.raises(PseudonymKeyError, match="set ZICHT_PSEUDONYM_KEY"):
        create_service(_settings(None))


@pytest.mark.parametrize("key", sorted(PUBLIC_PSEUDONYM_KEYS))
def test_a_key_published_with_the_source_is_refused(key: str) -> None:
    with pytest.raises(PseudonymKeyError, match="published"):
        create_service(_settings(key))


def test_a_short_key_is_refused() -> None:
    with pytest.raises(PseudonymKeyError, match="at least 32"):
        create_service(_settings("short-but-secret"))


def test_a_pseudonym_is_not_the_hmac_of_the_bsn_under_the_old_public_key() -> None:
    service = create_service(_settings("a-synthetic-installation-key-of-forty-chars"))
    pseudonym = service.pseudonymiser.pseudonym(SYNTHETIC_BSN)
    for public in PUBLIC_PSEUDONYM_KEYS:
        guess = hmac.new(public.encode(), SYNTHETIC_BSN.encode(), hashlib.sha256).hexdigest()
        assert guess != pseudonym


def test_the_service_command_without_a_key_exits_with_one_clear_line_not_a_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZICHT_PSEUDONYM_KEY")}
    result = subprocess.run(
        [sys.executable, "-m", "zicht_intake"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "intake cannot start" in result.stderr
    assert "ZICHT_PSEUDONYM_KEY" in result.stderr
    assert "Traceback" not in result.stderr
