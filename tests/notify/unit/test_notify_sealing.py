"""Webhook secrets sealed at rest under notify's own keys, and rotating those keys."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid

import pytest
from pydantic import SecretStr

from zicht_notify.app import create_service
from zicht_notify.config import NotifySettings
from zicht_notify.domain import (
    SealingError,
    SecretBox,
    SecretKeyError,
    generate_secret,
    parse_keys,
)

pytestmark = pytest.mark.unit

OLD = ("2025-1", b"o" * 32)
NEW = ("2026-1", b"n" * 32)
ROW = uuid.uuid4().bytes


def _setting(*keys: tuple[str, bytes]) -> str:
    return ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in keys)


def test_a_sealed_secret_shows_neither_the_secret_nor_its_key_material() -> None:
    secret = generate_secret()
    sealed = SecretBox([OLD]).seal([secret], ROW)
    assert secret.encode() not in sealed
    assert base64.b64decode(secret.removeprefix("whsec_")) not in sealed
    assert OLD[1] not in sealed
    assert SecretBox([OLD]).open(sealed, ROW) == [secret]


def test_two_seals_of_the_same_secrets_differ() -> None:
    secrets = [generate_secret(), generate_secret()]
    box = SecretBox([OLD])
    first, second = box.seal(secrets, ROW), box.seal(secrets, ROW)
    assert first != second
    assert box.open(first, ROW) == box.open(second, ROW) == secrets


def test_a_changed_sealed_value_or_one_moved_to_another_row_is_refused() -> None:
    box = SecretBox([OLD])
    sealed = box.seal([generate_secret()], ROW)
    flipped = sealed[:-40] + bytes([sealed[-40] ^ 1]) + sealed[-39:]
    with pytest.raises(SealingError, match="changed"):
        box.open(flipped, ROW)
    with pytest.raises(SealingError, match="another row"):
        box.open(sealed, uuid.uuid4().bytes)


def test_after_rotation_old_rows_still_open_and_new_seals_use_the_new_key() -> None:
    secret = generate_secret()
    before = SecretBox.from_setting(_setting(OLD))
    sealed_before = before.seal([secret], ROW)

    rotated = SecretBox.from_setting(_setting(NEW, OLD))  # the new key first: current
    assert rotated.open(sealed_before, ROW) == [secret]
    sealed_after = rotated.seal([secret], ROW)
    assert rotated.key_id_of(sealed_after) == NEW[0]
    assert rotated.key_id_of(sealed_before) == OLD[0]

    without_old = SecretBox.from_setting(_setting(NEW))
    assert without_old.open(sealed_after, ROW) == [secret]
    with pytest.raises(SealingError, match="2025-1"):
        without_old.open(sealed_before, ROW)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("", "no key"),
        ("just-a-key-without-an-id", "<key id>:<base64 key>"),
        ("k1:not base64!", "not base64"),
        (f"k1:{base64.b64encode(b'short').decode()}", "at least 32"),
        (_setting(OLD, OLD), "twice"),
    ],
)
def test_a_bad_key_setting_is_refused_saying_why(setting: str, problem: str) -> None:
    with pytest.raises(SecretKeyError, match=problem):
        parse_keys(setting)


def test_a_url_safe_or_standard_base64_key_both_work() -> None:
    key = bytes(range(200, 232))
    urlsafe = base64.urlsafe_b64encode(key).decode().rstrip("=")
    assert parse_keys(f"a:{urlsafe},b:{base64.b64encode(key).decode()}") == [
        ("a", key),
        ("b", key),
    ]


def test_notify_without_a_secret_key_refuses_to_be_built_and_says_how_to_set_one() -> None:
    settings = NotifySettings(_env_file=None, webhook_secret_keys=None)
    with pytest.raises(SecretKeyError, match="set ZICHT_WEBHOOK_SECRET_KEYS"):
        create_service(settings)
    short = NotifySettings(_env_file=None, webhook_secret_keys=SecretStr("k:c2hvcnQ="))
    with pytest.raises(SecretKeyError, match=r"ZICHT_WEBHOOK_SECRET_KEYS: .*at least 32"):
        create_service(short)


def test_the_service_command_without_a_key_exits_with_one_clear_line_not_a_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ZICHT_WEBHOOK_SECRET_KEYS"}
    result = subprocess.run(
        [sys.executable, "-m", "zicht_notify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "notify cannot start" in result.stderr
    assert "ZICHT_WEBHOOK_SECRET_KEYS" in result.stderr
    assert "Traceback" not in result.stderr
