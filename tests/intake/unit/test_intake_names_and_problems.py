"""Folding names and postcodes, reading JSON, schema keywords to rejections, field paths."""

from __future__ import annotations

import pytest

from intake.unit.partner_docs import example_json
from zicht_intake.domain import (
    Detail,
    PartnerFormat,
    Refusal,
    Rejection,
    format_schema,
    normalise_postcode,
    parse_json,
    provider_name_key,
    resolve_municipality,
    validate_json,
)
from zicht_intake.domain.validation import format_checker, is_personal_data_name
from zicht_schemas.codes import RejectionCode

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Zorggroep De Proefhoeve B.V.", "zorggroep de proefhoeve bv"),
        ("Stichting Voorbeeldzorg Twente", "Voorbeeldzorg  Twente"),
        ("Voorbeeldzorg Twente (woonlocatie)", "Stichting Voorbeeldzorg-Twente"),
        ("Coöperatie Testzorg Losser U.A.", "Cooperatie TESTZORG Losser"),
        ("Thuishulp Testmakers V.O.F.", "Thuishulp Testmakers vof"),
        ("Zorg N.V.", "ZORG NV"),
        ("'t Zorghuys", "T ZORGHUYS"),
    ],
)
def test_provider_names_compare_without_case_diacritics_punctuation_and_legal_form(
    one: str, other: str
) -> None:
    assert provider_name_key(one) == provider_name_key(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [("Zorggroep De Proefhoeve", "Zorggroep De Proeftuin"), ("Zorg 1", "Zorg 2")],
)
def test_different_provider_names_stay_different(one: str, other: str) -> None:
    assert provider_name_key(one) != provider_name_key(other)


def test_a_name_of_legal_form_words_only_matches_nothing() -> None:
    assert provider_name_key("Stichting B.V.") == ""


@pytest.mark.parametrize(
    ("text", "postcode"),
    [
        ("7512 cd", "7512CD"),
        (" 7512CD ", "7512CD"),
        ("7512  Cd", "7512CD"),
        ("0512CD", None),
        ("7512C", None),
        ("", None),
    ],
)
def test_postcodes_are_written_as_zicht_writes_them(text: str, postcode: str | None) -> None:
    assert normalise_postcode(text) == postcode


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Enschede", "GM0153"),
        ("gemeente hof van twente", "GM1735"),
        ("Rijssen Holten", "GM1742"),
        ("GM0153", "GM0153"),
        ("GM0363", "GM0363"),  # outside the regions, still a CBS code
        ("Amsterdam", None),  # a name outside the regions cannot be resolved
        ("GM01530", None),
        ("", None),
    ],
)
def test_municipalities_resolve_by_cbs_code_or_region_name(text: str, code: str | None) -> None:
    assert resolve_municipality(text) == code


# --- reading JSON --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"\xff\xfe{}", Detail.NOT_UTF8),
        (b"{", Detail.NOT_JSON),
        (b"", Detail.NOT_JSON),
        (b'{"a": 1, "a": 2}', Detail.DUPLICATE_KEY),
        (b'{"a": NaN}', Detail.NOT_JSON),
        (b'{"a": "\\ud800"}', Detail.NOT_UTF8),
        (b"[" * 33 + b"]" * 33, Detail.TOO_DEEP),
        (b"1" * 5000, Detail.NOT_JSON),
    ],
)
def test_bodies_intake_cannot_read_are_malformed(data: bytes, detail: str) -> None:
    result = parse_json(data)

    assert isinstance(result, Refusal)
    assert [(r.code, r.detail) for r in result.rejections] == [
        (RejectionCode.MALFORMED_PAYLOAD, detail)
    ]


def test_nesting_up_to_32_levels_and_brackets_in_strings_are_fine() -> None:
    assert isinstance(parse_json(b"[" * 32 + b"]" * 32), list)
    assert parse_json(b'{"a": "' + b"[" * 40 + b'"}') == {"a": "[" * 40}


def test_a_byte_order_mark_is_ignored() -> None:
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


def test_a_body_that_is_no_object_is_malformed_as_a_whole() -> None:
    assert [r.code for r in validate_json(PartnerFormat.IGJ, [1])] == [
        RejectionCode.MALFORMED_PAYLOAD
    ]


@pytest.mark.parametrize(
    ("name", "value", "conforms"),
    [
        ("date", "2026-02-28", True),
        ("date", "2026-02-30", False),
        ("date", "2026-3-1", False),
        ("date", "20260301", False),
        ("date-time", "2026-03-14T06:00:00+01:00", True),
        ("date-time", "2026-03-14T24:00:00Z", False),
        ("date-time", "2026-03-14T06:00:00", False),
        ("email", "team@igj.example", True),
        ("email", "team@igj", False),
        ("email", "twee woorden@igj.example", False),
    ],
)
def test_formats_really_assert(name: str, value: str, conforms: bool) -> None:
    assert format_checker().conforms(value, name) is conforms


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(ernst="3"), [("invalid_value", "/ernst"), ("unknown_code", "/ernst")]),
        (
            lambda d: d.update(tekortkomingen=["keurmerk", "keurmerk"]),
            [("invalid_value", "/tekortkomingen")],
        ),
        (lambda d: d.update(tekortkomingen=["geen"]), [("unknown_code", "/tekortkomingen/0")]),
        (
            lambda d: d["zorgaanbieder"].update(kvkNummer="123"),
            [("invalid_value", "/zorgaanbieder/kvkNummer")],
        ),
        (
            lambda d: d["contact"].update(functioneleMailbox="geen adres"),
            [("invalid_value", "/contact/functioneleMailbox")],
        ),
        (lambda d: d.update(omschrijving=""), [("invalid_value", "/omschrijving")]),
        (lambda d: d.pop("contact"), [("missing_field", "/contact")]),
        (lambda d: d["contact"].update(telefoon="x"), [("personal_data_not_allowed", "/contact")]),
    ],
)
def test_each_failing_keyword_becomes_the_readmes_rejection(
    change: object, expected: list[tuple[str, str]]
) -> None:
    document = example_json("igj.json")
    assert callable(change)
    change(document)

    assert [
        (r.code.value, r.pointer) for r in validate_json(PartnerFormat.IGJ, document)
    ] == expected


def test_indicator_name_outside_the_list_is_an_unknown_code_at_the_values() -> None:
    document = {"source": "supervision", "period_end": "2026-03-10", "values": {"omzet": 1}}

    assert [(r.code, r.pointer) for r in validate_json(PartnerFormat.INDICATORS, document)] == [
        (RejectionCode.UNKNOWN_CODE, "/values")
    ]


@pytest.mark.parametrize(
    ("name", "personal"),
    [
        ("naam", True),
        ("Date-Of_Birth", True),
        ("e mail", True),
        ("TELEFOONNUMMER", True),
        ("verdieping", False),
        ("naamloos", False),
    ],
)
def test_personal_data_names_are_compared_without_case_dashes_underscores_or_spaces(
    name: str, personal: bool
) -> None:
    assert is_personal_data_name(name) is personal


def test_the_published_schema_is_handed_out_as_a_copy() -> None:
    schema = format_schema(PartnerFormat.POLICE)
    schema["title"] = "changed"

    assert format_schema(PartnerFormat.POLICE)["title"] != "changed"


# --- where a rejection points ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rejection", "path"),
    [
        (
            Rejection(RejectionCode.INVALID_VALUE, "x", pointer="/locatie/postcode"),
            "locatie.postcode",
        ),
        (
            Rejection(RejectionCode.INVALID_VALUE, "x", pointer="/tekortkomingen/2"),
            "tekortkomingen[2]",
        ),
        (
            Rejection(RejectionCode.INVALID_VALUE, "x", pointer="/involvedPersons/0/bsn"),
            "involvedPersons[0].bsn",
        ),
        (Rejection(RejectionCode.INVALID_VALUE, "x", pointer="/a~1b/c~0d"), "a/b.c_d"),
        (Rejection(RejectionCode.INVALID_VALUE, "x", row=3, column="BSN"), "row[3].BSN"),
        (
            Rejection(
                RejectionCode.PROVIDER_NOT_IDENTIFIED, "x", row=7, column="AGB-code, postcode"
            ),
            "row[7].AGB-code/postcode",
        ),
        (Rejection(RejectionCode.MALFORMED_PAYLOAD, "x", row=5), "row[5]"),
        (Rejection(RejectionCode.MALFORMED_PAYLOAD, "x", pointer=""), "$"),
        (Rejection(RejectionCode.MALFORMED_PAYLOAD, "x"), "$"),
    ],
)
def test_field_path_says_where_as_the_event_contract_writes_it(
    rejection: Rejection, path: str
) -> None:
    assert rejection.field_path() == path
    assert rejection.to_reason().field == path


def test_reason_carries_the_code_and_the_fixed_detail() -> None:
    reason = Rejection(
        RejectionCode.INVALID_VALUE, Detail.BSN_11_CHECK, row=3, column="BSN"
    ).to_reason()

    assert (reason.code, reason.message) == (
        RejectionCode.INVALID_VALUE,
        "not a valid BSN (11-check)",
    )


def test_a_refusal_is_never_empty() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Refusal(())
