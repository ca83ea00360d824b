"""The message catalogue: symbolic keys → English and Dutch text, read from gettext .po files.

Keys are stable ids ("card.status.claimed"); texts use named `{placeholders}`. Both languages must
carry the same keys and placeholders (a test checks it). Times are shown in the configured zone.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from functools import cache
from importlib import resources
from typing import Literal

from babel.dates import format_date as babel_date
from babel.dates import format_datetime as babel_datetime
from babel.dates import format_time as babel_time
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)
LANGUAGES = ("en", "nl")
Language = Literal["en", "nl"]


@cache
def messages(language: str) -> dict[str, str]:
    """All texts of one language, parsed once per process."""
    path = resources.files("handoff_bot.i18n").joinpath(f"locales/{language}/LC_MESSAGES/messages.po")
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


class Catalogue:
    def __init__(self, language: str = "en") -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unsupported language {language!r}; use one of {', '.join(LANGUAGES)}")
        self.language = language
        self._texts = messages(language)
        self._fallback = messages("en")

    def template(self, key: str) -> str:
        """The raw text with its placeholders; falls back to English (once logged) before failing."""
        text = self._texts.get(key)
        if text is None:
            text = self._fallback.get(key)
            if text is None:
                raise KeyError(key)
            _warn_missing(self.language, key)
        return text

    def t(self, key: str, **values: object) -> str:
        """The text for `key` with its `{placeholders}` filled in (a missing value is a KeyError)."""
        return self.template(key).format(**values)


@cache
def _warn_missing(language: str, key: str) -> None:
    log.warning("message %r has no %s text; showing English", key, language)


def _local(moment: datetime, tz: tzinfo) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("format only aware datetimes")
    return moment.astimezone(tz)


def format_time(moment: datetime, tz: tzinfo, language: str) -> str:
    """ "10:42" in the configured zone."""
    return str(babel_time(_local(moment, tz), "HH:mm", locale=language))


def format_date(moment: datetime, tz: tzinfo, language: str) -> str:
    """ "12 Nov" / "12 nov"."""
    return str(babel_date(_local(moment, tz).date(), "d MMM", locale=language))


def format_datetime(moment: datetime, tz: tzinfo, language: str) -> str:
    """ "Mon 23 Nov 10:42" / "ma 23 nov 10:42"."""
    return str(babel_datetime(_local(moment, tz), "EEE d MMM HH:mm", locale=language))
