"""The live view: it fits a terminal, and it shows refusals at the receiver as refusals."""

from __future__ import annotations

import io

from rich.console import Console

from zicht_demo.receiver import AlertSeen, ReceiverStats
from zicht_demo.view import PartnerTally, Snapshot, render, summary_line


def _snapshot(*, unknown_paths: int = 0, problems: tuple[str, ...] = ()) -> Snapshot:
    alerts = tuple(
        AlertSeen(
            recipient=f"/hooks/GM{n:04d}",
            webhook_id=f"msg_{n}",
            received_at="2026-01-01T00:00:00+00:00",
            type="nl.zorgtoezicht.provider-risk-changed.v1",
            subject=f"demo-{n:04d}",
            summary="level red, previous_level orange, score 71.5",
        )
        for n in range(20)
    )
    return Snapshot(
        elapsed_s=3725,
        rate=5,
        providers=300,
        partners={
            kind: PartnerTally(sent=9000, accepted=8000, refused=900, meant_invalid=100)
            for kind in ("igj", "police", "access_team")
        },
        received={"igj": 8000, "police": 8000, "access_team": 8000},
        outcomes={
            "investigate": 9000,
            "criminal_referral": 400,
            "administrative_error": 2000,
            "no_investigation": 7000,
            "for_information": 5600,
        },
        awaiting_triage=12,
        levels={"green": 200, "orange": 60, "red": 40},
        changed_colour=90,
        top_red=tuple((f"demo-{n:04d}", f"Zorg {n} B.V.", 90.0 - n) for n in range(5)),
        deliveries={
            "delivered": 25000,
            "pending": 3,
            "retrying": 1,
            "failed": 0,
            "undeliverable": 2,
        },
        receiver=ReceiverStats(
            total=25000,
            per_recipient={},
            duplicates=4,
            bad_signatures=0,
            unknown_paths=unknown_paths,
            last_alerts=alerts,
        ),
        problems=problems,
    )


def _lines(snapshot: Snapshot, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(render(snapshot))
    return console.export_text().rstrip("\n").split("\n")


def test_the_view_fits_a_terminal_however_long_the_run() -> None:
    for width in (100, 160):
        lines = _lines(_snapshot(), width)
        assert len(lines) <= 28, "\n".join(lines)
        assert all(len(line) <= width for line in lines)
    # Twenty alerts arrived: the view lists the latest five, not all.
    assert sum("demo-00" in line and "GM" in line for line in _lines(_snapshot(), 160)) == 5


def test_alerts_refused_at_the_receiver_are_shown_as_refused_not_delivered() -> None:
    text = "\n".join(_lines(_snapshot(unknown_paths=323), 160))
    assert "404 no subscriber" in text
    assert "323" in text
    line = summary_line(_snapshot(unknown_paths=323))
    assert "refused 323 (no subscriber 323, bad signatures 0)" in line
    assert "delivered 25000" in line
