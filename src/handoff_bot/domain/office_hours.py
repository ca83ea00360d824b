"""Office hours: when the office is open, and how much office time lies between two moments.

Reminder clocks count office time only: a contact that arrives at 17:25 on a Friday, with a
10-minute reminder and hours `mon-fri 08:30-17:30`, is reminded on Monday at 08:35.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ENTRY = re.compile(
    r"^(?P<days>[a-z,\-]+)\s+(?P<spans>\d{1,2}:\d{2}-\d{1,2}:\d{2}(?:\s*,\s*\d{1,2}:\d{2}-\d{1,2}:\d{2})*)$"
)
HORIZON_DAYS = 400  # a calendar that is closed for longer than this is treated as never open
DAYS_KEPT = 1024  # days whose intervals are remembered (a few years around now; then start afresh)

Span = tuple[time, time]


def _days(text: str) -> list[int]:
    found: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"unknown day in {text!r}; use mon, tue, wed, thu, fri, sat, sun")
        a, b = DAYS.index(first), DAYS.index(last or first)
        found += list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]
    return found


def _time(text: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    return time(hours, minutes)


def parse_weekly(spec: str) -> dict[int, tuple[Span, ...]]:
    """`mon-fri 08:30-17:30; sat 10:00-14:00` → weekday → spans. `always` means 24/7."""
    text = " ".join(spec.strip().lower().split())
    if text in ("always", "24/7"):
        return {day: ((time.min, time.max),) for day in range(7)}
    weekly: dict[int, list[Span]] = {}
    for entry in filter(None, (e.strip() for e in text.split(";"))):
        match = _ENTRY.match(entry)
        if match is None:
            raise ValueError(f"cannot read {entry!r}; write e.g. 'mon-fri 08:30-17:30; sat 10:00-14:00'")
        for span in match.group("spans").split(","):
            start_text, end_text = (s.strip() for s in span.split("-"))
            try:
                start, end = _time(start_text), _time(end_text)
            except ValueError as exc:
                raise ValueError(f"not a time of day in {span!r}") from exc
            if start >= end:
                raise ValueError(f"{span!r} ends before it starts")
            for day in _days(match.group("days")):
                weekly.setdefault(day, []).append((start, end))
    if not weekly:
        raise ValueError("no opening hours given")
    return {day: tuple(sorted(spans)) for day, spans in weekly.items()}


@dataclass(frozen=True)
class OfficeHours:
    weekly: Mapping[int, tuple[Span, ...]]
    tz: tzinfo
    closed: Callable[[date], bool] = lambda _day: False  # public holidays and closed dates

    # A day's open intervals, worked out once: every intake asks (its claim reminder's due time), and
    # the time-zone arithmetic and holiday look-up were a few percent of the intake benchmark's CPU.
    _days: dict[date, tuple[tuple[datetime, datetime], ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def _day(self, current: date) -> tuple[tuple[datetime, datetime], ...]:
        found = self._days.get(current)
        if found is None:
            if len(self._days) >= DAYS_KEPT:
                self._days.clear()
            found = self._days[current] = () if self.closed(current) else tuple(self._open(current))
        return found

    def _open(self, current: date) -> Iterator[tuple[datetime, datetime]]:
        for start, end in self.weekly.get(current.weekday(), ()):
            opens = datetime.combine(current, start, self.tz).astimezone(UTC)
            closes = (
                datetime.combine(current + timedelta(days=1), time.min, self.tz)
                if end == time.max
                else datetime.combine(current, end, self.tz)
            ).astimezone(UTC)
            yield opens, closes

    def _intervals_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC) that end after `moment`, in order."""
        day = moment.astimezone(self.tz).date()
        for offset in range(HORIZON_DAYS):
            for opens, closes in self._day(day + timedelta(days=offset)):
                if closes > moment:
                    yield opens, closes

    def is_open(self, moment: datetime) -> bool:
        first = next(self._intervals_from(moment), None)
        return first is not None and first[0] <= moment < first[1]

    def add(self, start: datetime, minutes: float) -> datetime:
        """The moment when `minutes` of office time have passed since `start`."""
        remaining = timedelta(minutes=minutes)
        for opens, closes in self._intervals_from(start):
            begin = max(opens, start)
            if begin + remaining <= closes:
                return begin + remaining
            remaining -= closes - begin
        return start + timedelta(days=HORIZON_DAYS)

    def next_opening(self, moment: datetime) -> datetime:
        """`moment` itself when open, else when the office next opens."""
        for opens, _closes in self._intervals_from(moment):
            return max(opens, moment)
        return moment + timedelta(days=HORIZON_DAYS)

    def next_closing(self, moment: datetime) -> datetime:
        """The end of the open interval we are in, or of the next one."""
        for _opens, closes in self._intervals_from(moment):
            return closes
        return moment + timedelta(days=HORIZON_DAYS)

    def last_closing(self, moment: datetime) -> datetime:
        """When the office last closed before `moment` (looking back at most two weeks)."""
        probe = moment - timedelta(days=14)
        last = probe
        for _opens, closes in self._intervals_from(probe):
            if closes > moment:
                break
            last = closes
        return last
