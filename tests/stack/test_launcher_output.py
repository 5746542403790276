"""While the demo's live view holds the terminal, the launcher writes its lines to a log."""

from __future__ import annotations

import pathlib

import pytest

from zicht_devtools import stack


def test_the_launchers_lines_go_to_its_log_while_the_view_holds_the_terminal(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "launcher.log"
    stack._say("before the view")
    stack._OUTPUT.hold(log)
    try:
        stack._say("SIGINT: stopping")
    finally:
        stack._OUTPUT.release()
    stack._say("after the view")
    printed = capsys.readouterr().out
    assert printed == "zicht: before the view\nzicht: after the view\n"
    assert log.read_text(encoding="utf-8").endswith(" zicht: SIGINT: stopping\n")
