"""The catalogue: both languages complete and consistent, times in the configured zone."""

from __future__ import annotations

import ast
import logging
import re
import string
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

import handoff_bot
from handoff_bot.domain.contacts import Channel, ContactStatus
from handoff_bot.domain.customers import IdentityKind
from handoff_bot.domain.events import EventKind
from handoff_bot.i18n import catalogue
from handoff_bot.i18n.catalogue import Catalogue, format_date, format_datetime, format_time, messages
from handoff_bot.platforms.cards import ActionKind
from handoff_bot.storage import outbox

AMS = ZoneInfo("Europe/Amsterdam")
SRC = Path(handoff_bot.__file__).parent
# Calls that take a catalogue key as their first argument.
KEY_CALLS = {"t", "_t", "template"}


def placeholders(text: str) -> set[tuple[str, str | None]]:
    return {(name, conversion) for _, name, _, conversion in string.Formatter().parse(text) if name}


def test_both_po_files_parse_strictly_without_duplicates() -> None:
    for language in ("en", "nl"):
        po = resources.files("handoff_bot.i18n").joinpath(f"locales/{language}/LC_MESSAGES/messages.po")
        with po.open("rb") as handle:
            parsed = read_po(handle, locale=language, abort_invalid=True)
        ids = re.findall(r'^msgid "(.+)"$', po.read_text(encoding="utf-8"), flags=re.MULTILINE)
        assert len(ids) == len(set(ids)) == len([m for m in parsed if m.id]), language
        assert str(parsed.locale) == language


def test_english_and_dutch_have_the_same_keys_and_placeholders() -> None:
    en, nl = messages("en"), messages("nl")
    assert len(en) > 150
    assert set(en) == set(nl)
    mismatched = {k for k in en if placeholders(en[k]) != placeholders(nl[k])}
    assert mismatched == set()
    assert all(text.strip() for text in [*en.values(), *nl.values()])


def test_the_shared_vocabulary() -> None:
    en, nl = Catalogue("en"), Catalogue("nl")
    pairs = {
        "channel.phone": ("Phone", "Telefoon"),
        "channel.email": ("Email", "E-mail"),
        "channel.social": ("Social media", "Sociale media"),
        "channel.web": ("Website", "Website"),
        "channel.walk_in": ("Walk-in", "Balie"),
        "channel.other": ("Other", "Overig"),
        "action.claim": ("Claim", "Oppakken"),
        "action.ask": ("Ask a colleague", "Vraag een collega"),
        "action.resolve": ("Resolve", "Afronden"),
        "action.release": ("Release", "Vrijgeven"),
        "action.transfer": ("Transfer", "Doorverbinden"),
        "card.context.first": ("First contact from this customer", "Eerste contact met deze klant"),
    }
    assert {key: (en.t(key), nl.t(key)) for key in pairs} == pairs
    assert (
        en.t("thread.answered", colleague="Piet", asker="Marieke", answer="Yes, under warranty")
        == "Piet answered Marieke: Yes, under warranty"
    )
    assert en.t("outcome.already_claimed", name="Piet") == "Already claimed by Piet"
    assert "INC-7" in nl.t("error.incident", incident="INC-7")


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
    with pytest.raises(KeyError):
        Catalogue("en").t("card.status.claimed", name="Piet")  # `since` left out
    with pytest.raises(ValueError, match="unsupported language"):
        Catalogue("de")


def test_a_text_missing_in_dutch_shows_english_and_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dutch = {k: v for k, v in messages("nl").items() if k != "action.claim"}
    monkeypatch.setattr(
        catalogue, "messages", lambda language: dutch if language == "nl" else messages(language)
    )
    catalogue._warn_missing.cache_clear()  # "once" is per process; start this test afresh
    nl = Catalogue("nl")
    with caplog.at_level(logging.WARNING, logger="handoff_bot.i18n.catalogue"):
        assert [nl.t("action.claim"), nl.t("action.claim"), nl.t("action.resolve")] == [
            "Claim",
            "Claim",
            "Afronden",
        ]
    assert [r.getMessage() for r in caplog.records] == [
        "message 'action.claim' has no nl text; showing English"
    ]


def _keys_used_in_source() -> tuple[set[str], set[str]]:
    """Literal keys and f-string key prefixes passed to t()/_t()/template() or assigned to `key`."""
    keys: set[str] = set()
    prefixes: set[str] = set()

    def collect(node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            keys.add(node.value)
        elif isinstance(node, ast.IfExp):
            collect(node.body)
            collect(node.orelse)
        elif isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            prefixes.add(str(node.values[0].value))

    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if name in KEY_CALLS:
                    collect(node.args[0])
            elif (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["key"]
                and isinstance(node.value, ast.IfExp)
            ):
                collect(node.value)
    return keys, prefixes


def test_every_key_the_code_asks_for_exists() -> None:
    known = set(messages("en"))
    keys, prefixes = _keys_used_in_source()
    assert len(keys) > 80  # the scan found the calls
    assert keys - known == set()
    assert {p for p in prefixes if not any(k.startswith(p) for k in known)} == set()


@pytest.mark.parametrize(
    ("prefix", "values"),
    [
        ("channel.", [c.value for c in Channel]),
        ("status.", [s.value for s in ContactStatus]),
        ("event.", [k.value for k in EventKind]),
        ("action.", [a.value for a in ActionKind]),
        ("card.detail.", [i.value for i in IdentityKind]),
        ("cli.outbox.status.", [outbox.PENDING, outbox.DONE, outbox.DEAD]),
    ],
)
def test_every_enum_value_has_a_text(prefix: str, values: list[str]) -> None:
    assert [v for v in values if f"{prefix}{v}" not in messages("en")] == []


@pytest.mark.parametrize(
    ("moment", "language", "expected"),
    [
        (datetime(2026, 1, 12, 9, 42, tzinfo=UTC), "en", ("10:42", "12 Jan", "Mon 12 Jan 10:42")),
        (
            datetime(2026, 7, 13, 9, 42, tzinfo=UTC),
            "en",
            ("11:42", "13 Jul", "Mon 13 Jul 11:42"),
        ),  # summer time
        (datetime(2026, 7, 13, 9, 42, tzinfo=UTC), "nl", ("11:42", "13 jul", "ma 13 jul 11:42")),
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


def test_another_zone_shows_another_clock() -> None:
    moment = datetime(2026, 7, 13, 9, 42, tzinfo=UTC)
    assert format_time(moment, ZoneInfo("Europe/London"), "en") == "10:42"
    assert format_time(moment, ZoneInfo("America/New_York"), "en") == "05:42"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_time(datetime(2026, 1, 1, 12, 0), AMS, "en")
