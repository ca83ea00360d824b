"""Questions a colleague is asked about a contact."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from handoff_bot.domain.errors import AskSelf, QuestionClosed
from handoff_bot.domain.events import EventKind, TimelineEvent


class QuestionStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CANCELLED = "cancelled"


@dataclass
class Question:
    id: int | None
    contact_id: int
    asker_id: int
    colleague_id: int
    text: str
    asked_at: datetime
    status: QuestionStatus = QuestionStatus.OPEN
    answer: str | None = None
    answered_by: int | None = None
    answered_at: datetime | None = None
    version: int = 1

    def __post_init__(self) -> None:
        if self.asker_id == self.colleague_id:
            raise AskSelf(person_id=self.asker_id)

    def asked(self, via: str | None = None) -> TimelineEvent:
        """`via` names the platform it was asked on, so the colleague is asked there if they can be."""
        data: dict[str, object] = {"question_id": self.id, "colleague": self.colleague_id}
        if via:
            data["via"] = via
        return TimelineEvent(
            contact_id=self.contact_id,
            kind=EventKind.ASKED,
            at=self.asked_at,
            actor_id=self.asker_id,
            data=data,
        )

    def answer_with(self, person_id: int, text: str, at: datetime) -> TimelineEvent:
        """Record the answer; whoever answers (usually the colleague) is recorded as answered_by."""
        self._require_open()
        self.status, self.answer, self.answered_by, self.answered_at = (
            QuestionStatus.ANSWERED,
            text,
            person_id,
            at,
        )
        return TimelineEvent(
            contact_id=self.contact_id,
            kind=EventKind.ANSWERED,
            at=at,
            actor_id=person_id,
            data={"question_id": self.id, "asker": self.asker_id},
        )

    def cancel(self, person_id: int, at: datetime) -> TimelineEvent:
        self._require_open()
        self.status = QuestionStatus.CANCELLED
        return TimelineEvent(
            contact_id=self.contact_id,
            kind=EventKind.QUESTION_CANCELLED,
            at=at,
            actor_id=person_id,
            data={"question_id": self.id},
        )

    def _require_open(self) -> None:
        if self.status is not QuestionStatus.OPEN:
            assert self.id is not None
            raise QuestionClosed(question_id=self.id, status=self.status.value, answered_by=self.answered_by)
