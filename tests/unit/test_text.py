"""Text from customers and platforms is made safe to store, whatever arrives."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoff_bot.domain.text import clean_text

# What a broken client may send: any code point, with lone surrogates (which hypothesis leaves out
# unless asked), NUL, CR and combining marks made likely.
ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec=None, categories=None),
        st.characters(categories=["Cs"]),
        st.sampled_from(["\x00", "\r", "\n", "\u0301", "e", " "]),
    ),
    max_size=200,
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Hello\x00 world", "Hello world"),
        ("bell\x07 tab\tkept", "bell tab\tkept"),
        ("esc\x1b[31mred", "esc[31mred"),
        ("c1\x85\x9fgone\x7f", "c1gone"),
        ("half \ud83d pair", "half \ufffd pair"),
        ("line 1\r\nline 2\rline 3\n", "line 1\nline 2\nline 3"),
        ("  trimmed \n", "trimmed"),
        ("Cafe\u0301", "Café"),
        ("", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_nfc_composes_what_a_removed_control_character_kept_apart() -> None:
    assert clean_text("e\x00\u0301") == "\u00e9"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Jan \t Jansen\r\n", "Jan Jansen"),
        ("Subject\non\nthree lines", "Subject on three lines"),
        ("nul\x00between", "nulbetween"),
        ("\n\n", ""),
    ],
)
def test_single_line_collapses_whitespace(raw: str, clean: str) -> None:
    assert clean_text(raw, single_line=True) == clean


@given(ANY_TEXT, st.booleans())
def test_output_is_storable_and_cleaning_twice_changes_nothing(raw: str, single_line: bool) -> None:
    once = clean_text(raw, single_line=single_line)

    assert "\x00" not in once
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in once)
    assert "\r" not in once
    assert unicodedata.is_normalized("NFC", once)
    once.encode("utf-8")  # PostgreSQL and JSON both need valid UTF-8
    if single_line:
        assert "\n" not in once
    assert clean_text(once, single_line=single_line) == once
