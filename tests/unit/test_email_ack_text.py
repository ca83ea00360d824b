"""The acknowledgement wording: a greeting by the local time of day, a title only when the name has one."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.outbox.email_ack import ack_text, greeting_key, salutation

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("utc", "key"),
    [
        (datetime(2026, 11, 23, 4, 30, tzinfo=UTC), "email.ack.morning"),  # 05:30 local
        (datetime(2026, 11, 23, 10, 59, tzinfo=UTC), "email.ack.morning"),  # 11:59
        (datetime(2026, 11, 23, 11, 0, tzinfo=UTC), "email.ack.afternoon"),  # 12:00
        (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), "email.ack.evening"),  # 18:00
        (datetime(2026, 11, 23, 2, 0, tzinfo=UTC), "email.ack.evening"),  # 03:00: nobody says good morning
        (datetime(2026, 7, 1, 10, 30, tzinfo=UTC), "email.ack.afternoon"),  # 12:30 in summer time
    ],
)
def test_the_greeting_follows_the_local_time_of_day(utc: datetime, key: str) -> None:
    assert greeting_key(utc, AMSTERDAM) == key


@pytest.mark.parametrize(
    ("language", "name", "expected"),
    [
        ("nl", "Mevr. Jansen", "mevrouw Jansen"),
        ("nl", "mw. A. de Vries", "mevrouw A. de Vries"),
        ("nl", "Dhr. P. Bakker", "meneer P. Bakker"),
        ("nl", "De heer Bakker", "meneer Bakker"),
        ("nl", "mr. J. de Wit", "mr. J. de Wit"),  # a law degree in Dutch, not a gender
        ("en", "Mrs Jansen", "Ms Jansen"),
        ("en", "Mr. Smith", "Mr Smith"),
        ("nl", "Anna Jansen", "Anna Jansen"),  # no guessing from first names
        ("nl", "Mevrouw", "Mevrouw"),
        ("nl", None, ""),
    ],
)
def test_the_salutation_comes_from_a_title_in_the_name_or_is_the_name(
    language: str, name: str | None, expected: str
) -> None:
    assert salutation(Catalogue(language), name) == expected


def test_the_dutch_acknowledgement_names_the_claimant_and_tags_the_subject() -> None:
    text = ack_text(
        Catalogue("nl"),
        now=datetime(2026, 11, 23, 13, 0, tzinfo=UTC),
        tz=AMSTERDAM,
        customer="Anna Jansen",
        claimant="Marieke",
        subject="RE: Offerte",
        contact_id=42,
        organisation="Bakkerij Jansen",
    )
    assert text.subject == "Re: Offerte [#42]"
    assert text.body == (
        "Goedemiddag Anna Jansen,\n\n"
        "Hartelijk dank voor uw e-mail over “Offerte”. Marieke neemt contact met u op.\n\n"
        "Met vriendelijke groet,\nBakkerij Jansen\n"
    )


def test_the_english_acknowledgement_without_a_name_or_subject_is_still_sensible() -> None:
    text = ack_text(
        Catalogue("en"),
        now=datetime(2026, 11, 23, 19, 0, tzinfo=UTC),
        tz=AMSTERDAM,
        customer=None,
        claimant="Piet",
        subject="Re: [#7]",
        contact_id=7,
        organisation="info@example.org",
    )
    assert text.subject == "Re: [#7]"
    assert text.body.startswith("Good evening,\n\nThank you for your email about “[#7]”. Piet is looking")
