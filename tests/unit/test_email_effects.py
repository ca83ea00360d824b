"""What email adds to the effects table and the card: one acknowledgement per contact, sizes people read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.platforms.cards import format_size
from handoff_bot.services.effects import CARD_REFRESH, EMAIL_ACK, THREAD_NOTE, effects_of

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def claimed(channel: str) -> TimelineEvent:
    return TimelineEvent(7, EventKind.CLAIMED, AT, 3, {"waited_seconds": 1.0, "channel": channel}, id=11)


def test_claiming_an_email_contact_asks_for_one_acknowledgement_ever() -> None:
    effects = effects_of(claimed("email"))
    [ack] = [e for e in effects if e.kind == EMAIL_ACK]
    assert ack.payload == {"contact_id": 7, "event_id": 11}
    assert not ack.fan_out and ack.dedupe == "email.ack:7" and ack.key == "contact:7"


def test_claiming_a_phone_contact_sends_no_mail() -> None:
    assert [e.kind for e in effects_of(claimed("phone"))] == [CARD_REFRESH, THREAD_NOTE]


def test_a_follow_up_refreshes_the_card_and_adds_a_thread_line() -> None:
    event = TimelineEvent(7, EventKind.FOLLOW_UP, AT, None, {"text": "Hi"}, id=12)
    assert [e.kind for e in effects_of(event)] == [CARD_REFRESH, THREAD_NOTE]


@pytest.mark.parametrize(
    ("size", "language", "text"),
    [
        (0, "en", "0 B"),
        (999, "en", "999 B"),
        (1500, "en", "1.5 kB"),
        (12_345, "nl", "12 kB"),
        (2_100_000, "nl", "2,1 MB"),
        (20_000_000, "en", "20 MB"),
        (999_600, "en", "1.0 MB"),
        (3_000_000_000, "en", "3.0 GB"),
    ],
)
def test_file_sizes_read_naturally(size: int, language: str, text: str) -> None:
    assert format_size(size, language) == text
