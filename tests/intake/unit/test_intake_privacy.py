"""Personal data on arrival: the BSN 11-check, keyed pseudonyms and masking of free text."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from intake.unit.partner_docs import pseudonymiser
from zicht_intake.domain import Pseudonymiser, is_valid_bsn, mask_free_text

pytestmark = pytest.mark.unit

# Synthetic BSNs of the test range 9999xxxxx used in docs/partners/examples.
TEST_BSNS = ["999927176", "999958379", "999971153", "999908704", "999913050", "999910450"]


@st.composite
def valid_bsns(draw: st.DrawFn) -> str:
    digits = draw(st.lists(st.integers(0, 9), min_size=8, max_size=8))
    last = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True)) % 11
    assume(last < 10)
    bsn = "".join(map(str, [*digits, last]))
    assume(bsn != "000000000")
    return bsn


@pytest.mark.parametrize("bsn", TEST_BSNS)
def test_test_range_bsns_pass_the_11_check(bsn: str) -> None:
    assert is_valid_bsn(bsn)


@pytest.mark.parametrize("bsn", TEST_BSNS)
@pytest.mark.parametrize("position", range(9))
@pytest.mark.parametrize("delta", [1, -1])
def test_a_digit_off_by_one_fails_the_11_check(bsn: str, position: int, delta: int) -> None:
    typo = bsn[:position] + str((int(bsn[position]) + delta) % 10) + bsn[position + 1 :]

    assert not is_valid_bsn(typo)


@given(valid_bsns(), st.integers(0, 7))
def test_a_swap_of_neighbouring_digits_fails_the_11_check(bsn: str, position: int) -> None:
    assume(bsn[position] != bsn[position + 1])
    swapped = bsn[:position] + bsn[position + 1] + bsn[position] + bsn[position + 2 :]

    assert is_valid_bsn(bsn)
    assert not is_valid_bsn(swapped)


@pytest.mark.parametrize(
    "value",
    [
        "000000000",
        "99992717",
        "9999271760",
        "99992717a",
        " 999927176",
        "\uff19\uff19\uff19\uff19\uff12\uff17\uff11\uff17\uff16",
        "",
    ],
)
def test_zeros_wrong_lengths_and_other_characters_are_no_bsn(value: str) -> None:
    assert not is_valid_bsn(value)


def test_pseudonym_is_stable_hex_and_depends_on_the_key() -> None:
    one = pseudonymiser(b"key-one")
    other = pseudonymiser(b"key-two")

    first = one.pseudonym("999927176")

    assert first == one.pseudonym("999927176")
    assert first == one.pseudonym("9999.27.176")  # the same BSN written with dots
    assert len(first) == 64
    assert set(first) <= set("0123456789abcdef")
    assert first != other.pseudonym("999927176")
    assert first != one.pseudonym("999958379")


@given(valid_bsns())
def test_pseudonym_never_shows_the_bsn(bsn: str) -> None:
    pseudonym = pseudonymiser().pseudonym(bsn)

    assert pseudonym != bsn
    assert bsn not in pseudonym


def test_pseudonymising_an_invalid_bsn_is_refused_without_repeating_it() -> None:
    with pytest.raises(ValueError, match="not a valid BSN") as raised:
        pseudonymiser().pseudonym("999927177")

    assert "999927177" not in str(raised.value)


def test_the_key_never_shows_in_the_pseudonymisers_repr() -> None:
    assert "secret-key" not in repr(Pseudonymiser(b"secret-key", "k1"))


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        Pseudonymiser(b"", "k1")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("BSN 999927176 van cliënt", "BSN [BSN] van cliënt"),
        ("BSN 9999.27.176 of 999 927 176", "BSN [BSN] of [BSN]"),
        ("(999927176)", "([BSN])"),
        ("mail jan.de-vries+zorg@voorbeeld.example.nl aub", "mail [E-MAIL] aub"),
        ("bel 06-12345678 of 06 1234 5678", "bel [TELEFOON] of [TELEFOON]"),
        (
            "bel +31 6 12345678, +31 (0)6 12345678 of 0031612345678",
            "bel [TELEFOON], [TELEFOON] of [TELEFOON]",
        ),
        (
            "kantoor 053-1234567, 0541 123456 of (020) 123 4567",
            "kantoor [TELEFOON], [TELEFOON] of [TELEFOON]",
        ),
    ],
)
def test_bsns_email_addresses_and_phone_numbers_are_masked(text: str, masked: str) -> None:
    assert mask_free_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "KvK 99000011 en AGB 98990011",
        "nummer 999927177 faalt de elfproef",
        "op 01-02-2026 03:00 en 12-03-2026 om 14:05",
        "bedrag EUR 1.250.000,00 en 12.345",
        "zaak IGJ-2026-004711, registratie PL0600-2026004217",
        "IBAN NL91ABNA0417164300",
        "postcode 7511 AB, huisnummer 12-A",
        "1234567890 en 0123",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_free_text(text) == text


@given(valid_bsns(), st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=20))
def test_a_valid_bsn_in_free_text_never_survives_masking(bsn: str, around: str) -> None:
    masked = mask_free_text(f"{around}{bsn}{around}")

    assert bsn not in masked
