"""The risk model file: the shipped default loads, a malformed file is refused with its line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from scoring.unit.builders import AT, assessed, default_model_text, facts, reading
from zicht_schemas import Category, IndicatorCode, Outcome, RiskLevel, Severity
from zicht_scoring.domain import (
    Comparison,
    ModelError,
    default_model,
    evaluate,
    load_model,
    load_model_file,
)

pytestmark = pytest.mark.unit


def test_the_shipped_model_is_2025_1_as_the_policy_states_it() -> None:
    model = default_model()

    assert model.version == "2025.1"
    assert set(model.indicators) == set(IndicatorCode)
    assert dict(model.indicator_points) == {
        RiskLevel.GREEN: 0.0,
        RiskLevel.ORANGE: 10.0,
        RiskLevel.RED: 25.0,
    }
    assert model.signals.outcomes[Outcome.INVESTIGATE].points_for(Category.CALAMITY) == 20.0
    assert model.signals.outcomes[Outcome.INVESTIGATE].points_for(Category.QUALITY) == 15.0
    assert dict(model.signals.severity_factors) == {
        Severity.LOW: 0.5,
        Severity.MEDIUM: 1.0,
        Severity.HIGH: 1.5,
    }
    assert (model.signals.window_months, model.half_life_days) == (24, 180.0)
    assert model.investigations.improvement_plan_points == 10.0
    assert model.investigations.hold_months == 24
    levels = model.levels
    assert (levels.orange, levels.red, levels.hysteresis, levels.score_cap) == (30, 60, 5, 100)
    equity = model.indicators[IndicatorCode.EQUITY_RATIO]
    assert equity.red is not None
    assert (equity.red.test, equity.red.value) == (Comparison.BELOW, 0.05)


def test_a_model_file_on_disk_loads_like_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "regio-2025.1.yaml"
    path.write_text(default_model_text(), encoding="utf-8")

    assert load_model_file(path) == default_model()


def test_a_missing_model_file_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    with pytest.raises(ModelError, match=r"absent\.yaml: cannot read the model file"):
        load_model_file(path)


def test_an_unquoted_version_keeps_its_text() -> None:
    text = default_model_text().replace('version: "2025.1"', "version: 2025.10")

    assert load_model(text, origin="regio.yaml").version == "2025.10"


DIPLOMA = '  diploma_fraud:\n    red: {is: true, explanation: "diploma fraud established"}\n'

# (id, old text, new text, a text on the line to be named, what the message says)
REFUSALS = [
    (
        "unknown indicator code",
        DIPLOMA,
        DIPLOMA + '  cash_flow_ratio:\n    orange: {below: 0.1, explanation: "low cash flow"}\n',
        "cash_flow_ratio:",
        "unknown indicator code 'cash_flow_ratio'",
    ),
    ("indicator missing", DIPLOMA, "", "indicators:", "indicator code 'diploma_fraud' is missing"),
    (
        "a number for a flag",
        'orange: {is: true, explanation: "real estate',
        'orange: {at_least: 1, explanation: "real estate',
        'at_least: 1, explanation: "real estate',
        "a yes/no indicator takes 'is: true' or 'is: false', not a number",
    ),
    (
        "a flag for a number",
        'red: {below: 0.05, explanation: "equity',
        'red: {is: true, explanation: "equity',
        'red: {is: true, explanation: "equity',
        "a ratio indicator takes 'below' or 'at_least' with a number",
    ),
    (
        "a fraction for a count",
        "red: {at_least: 4,",
        "red: {at_least: 3.5,",
        "at_least: 3.5",
        "a count indicator takes a whole number",
    ),
    (
        "red less strict than orange",
        "red: {below: 0.05,",
        "red: {below: 0.20,",
        "red: {below: 0.20,",
        "red must be stricter than orange",
    ),
    (
        "red and orange with different tests",
        "red: {below: 0.50,",
        "red: {at_least: 0.90,",
        "red: {at_least: 0.90,",
        "same test",
    ),
    ("boundaries not increasing", "  red: 60\n", "  red: 30\n", "  red: 30", "red must be above"),
    ("score cap below red", "score_cap: 100", "score_cap: 50", "score_cap: 50", "score cap"),
    ("negative points", "  orange: 10\n", "  orange: -10\n", "orange: -10", "must be 0 or more"),
    ("points above 100", "  red: 25\n", "  red: 125\n", "red: 125", "at most 100"),
    (
        "unknown outcome",
        "    out_of_region:\n",
        '    escalate:\n      points: 50\n      explanation: "escalated"\n    out_of_region:\n',
        "escalate:",
        "unknown outcome 'escalate'",
    ),
    (
        "missing outcome",
        (
            '    out_of_region:\n      points: 0\n      explanation: "signal about care outside '
            'the region"\n'
        ),
        "",
        "  outcomes:",
        "outcome 'out_of_region' is missing",
    ),
    (
        "unknown severity",
        "    high: 1.5\n",
        "    high: 1.5\n    extreme: 2.0\n",
        "extreme: 2.0",
        "unknown severity 'extreme'",
    ),
    ("missing severity", "    high: 1.5\n", "", "severity_factors:", "severity 'high' is missing"),
    ("negative severity factor", "    low: 0.5\n", "    low: -0.5\n", "low: -0.5", "0 or more"),
    (
        "unknown category",
        "{calamity: 20,",
        "{calamities: 20,",
        "calamities: 20",
        "unknown category 'calamities'",
    ),
    (
        "half-life of zero",
        "half_life_days: 180",
        "half_life_days: 0",
        "half_life_days: 0",
        "more than 0",
    ),
    ("hold of zero months", "hold_months: 24", "hold_months: 0", "hold_months: 0", "1 or more"),
    (
        "window in fractions",
        "window_months: 24",
        "window_months: 23.5",
        "window_months: 23.5",
        "whole",
    ),
    ("version not YYYY.N", 'version: "2025.1"', 'version: "v1"', "version:", "YYYY.N"),
    ("version without a number", 'version: "2025.1"', "version: 2025", "version:", "YYYY.N"),
    ("repeated key", "  orange: 10\n", "  orange: 10\n  orange: 12\n", "orange: 12", "given twice"),
    (
        "unknown key",
        "  hysteresis: 5\n",
        "  hysteresis: 5\n  hysteresis_days: 2\n",
        "hysteresis_days",
        "unknown key 'hysteresis_days'",
    ),
    (
        "missing explanation",
        DIPLOMA,
        "  diploma_fraud:\n    red: {is: true}\n",
        "red: {is: true}",
        "lacks 'explanation'",
    ),
    (
        "explanation over two lines",
        '"diploma fraud established"',
        '"diploma fraud\\nestablished"',
        "diploma fraud",
        "one line",
    ),
    (
        "a section that is no mapping",
        "decay:\n  half_life_days: 180\n",
        "decay: 180\n",
        "decay: 180",
        "decay must be a mapping",
    ),
    ("not YAML", "  green: 0\n", "  green: 0: 1\n", "green: 0: 1", "not valid YAML"),
]


def _line_of(text: str, marker: str) -> int:
    lines = [number for number, line in enumerate(text.splitlines(), 1) if marker in line]
    assert len(lines) == 1, f"marker {marker!r} is not on exactly one line"
    return lines[0]


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
def test_a_malformed_model_is_refused_naming_file_line_and_problem(
    old: str, new: str, marker: str, message: str
) -> None:
    text = default_model_text()
    assert text.count(old) == 1
    changed = text.replace(old, new)

    with pytest.raises(ModelError) as caught:
        load_model(changed, origin="regio.yaml")

    error = caught.value
    assert message in error.problem
    assert (error.origin, error.line) == ("regio.yaml", _line_of(changed, marker))
    assert str(error) == f"regio.yaml:{error.line}: {error.problem}"


def test_an_empty_model_is_refused() -> None:
    with pytest.raises(ModelError, match=r"^regio\.yaml:1: the model is empty$"):
        load_model("# nothing here\n", origin="regio.yaml")


def test_a_missing_section_is_refused_by_name() -> None:
    text = default_model_text().replace("decay:\n  half_life_days: 180\n", "")

    with pytest.raises(ModelError, match=r"the model lacks 'decay'"):
        load_model(text, origin="regio.yaml")


def test_a_model_error_is_a_value_error_so_start_up_can_refuse_it_plainly() -> None:
    assert issubclass(ModelError, ValueError)


def test_a_region_changes_the_weights_by_a_new_model_version_not_by_code() -> None:
    text = (
        default_model_text()
        .replace('version: "2025.1"', 'version: "2025.2"')
        .replace("  orange: 10\n", "  orange: 12\n")
        .replace("half_life_days: 180", "half_life_days: 90")
    )
    changed = load_model(text, origin="regio-2025.2.yaml")
    provider = facts(
        [
            reading(IndicatorCode.DIRECTOR_PAY_ABOVE_WNT, value=True),
            reading(IndicatorCode.HIGH_RISK_SECTOR_LINKS, value=True),
        ],
        [assessed(1, Outcome.INVESTIGATE, occurred_at=AT - timedelta(days=90))],
    )

    before = evaluate(provider, default_model(), AT)
    after = evaluate(provider, changed, AT)

    # 2 x 10 + 15 x 0.5 ** (90 / 180), then 2 x 12 + 15 x 0.5 ** (90 / 90).
    assert (before.model_version, before.score) == ("2025.1", 30.6)
    assert (after.model_version, after.score) == ("2025.2", 31.5)
