"""The catalogue: both languages complete and consistent, times in the configured zone."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from handoff_bot.i18n.catalogue import Catalogue, format_date, format_datetime, format_time, messages

AMS = ZoneInfo("Europe/Amsterdam")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_english_and_dutch_have_the_same_keys_and_placeholders() -> None:
    en, nl = messages("en"), messages("nl")
    assert len(en) > 150
    assert set(en) == set(nl)
    mismatched = {k for k in en if placeholders(en[k]) != placeholders(nl[k])}
    assert mismatched == set()
    assert all(text.strip() for text in [*en.values(), *nl.values()])


def test_texts_are_filled_in_by_name() -> None:
    assert (
        Catalogue("en").t("card.status.claimed", name="Piet", since="10:42") == "Claimed by Piet since 10:42"
    )
    assert (
        Catalogue("nl").t("card.status.claimed", name="Piet", since="10:42")
        == "Opgepakt door Piet sinds 10:42"
    )


def test_unknown_keys_fail_loudly_and_unknown_languages_are_refused() -> None:
    with pytest.raises(KeyError):
        Catalogue("en").t("no.such.key")
    with pytest.raises(ValueError, match="unsupported language"):
        Catalogue("de")


@pytest.mark.parametrize(
    ("moment", "language", "expected"),
    [
        (datetime(2026, 1, 12, 9, 42, tzinfo=UTC), "en", ("10:42", "12 Jan", "Mon 12 Jan 10:42")),
        (
            datetime(2026, 7, 13, 9, 42, tzinfo=UTC),
            "en",
            ("11:42", "13 Jul", "Mon 13 Jul 11:42"),
        ),  # summer time
        (
            datetime(2026, 11, 12, 23, 30, tzinfo=UTC),
            "nl",
            ("00:30", "13 nov", "vr 13 nov 00:30"),
        ),  # next day
    ],
)
def test_times_are_shown_in_the_configured_zone(
    moment: datetime, language: str, expected: tuple[str, ...]
) -> None:
    got = (
        format_time(moment, AMS, language),
        format_date(moment, AMS, language),
        format_datetime(moment, AMS, language),
    )
    assert got == expected


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_time(datetime(2026, 1, 1, 12, 0), AMS, "en")
