"""The neutral card view: what a contact card says and which actions it offers, decided once.

Renderers (Block Kit, Adaptive Cards) turn these views into platform payloads. Text is split into
segments: `str` segments are literal text that the renderer escapes, `PersonRef` segments become a
mention where the person has an account on that platform, else their name.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo

from handoff_bot.domain.contacts import Channel, ContactStatus
from handoff_bot.domain.customers import IdentityKind
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.office_hours import OfficeHours
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.i18n.catalogue import Catalogue, format_date, format_datetime, format_time
from handoff_bot.services.views import ContactDetails

CHANNEL_ICONS = {
    Channel.PHONE: "📞",
    Channel.EMAIL: "✉️",
    Channel.CHAT: "💬",
    Channel.SOCIAL: "📣",
    Channel.WEB: "🌐",
    Channel.WALK_IN: "🚶",
    Channel.OTHER: "📝",
}


@dataclass(frozen=True)
class PersonRef:
    id: int
    name: str
    platform_ids: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, person: Person) -> PersonRef:
        assert person.id is not None
        return cls(person.id, person.display_name, dict(person.identities))


class OnDuty:
    """Whoever is on duty: rendered as the platform's configured mention (e.g. @here or a user group)."""

    def __repr__(self) -> str:
        return "ON_DUTY"


ON_DUTY = OnDuty()
Segment = str | PersonRef | OnDuty
Line = tuple[Segment, ...]


class ActionKind(enum.StrEnum):
    CLAIM = "claim"
    ASK = "ask"
    RESOLVE = "resolve"
    RELEASE = "release"
    TRANSFER = "transfer"
    REOPEN = "reopen"


@dataclass(frozen=True)
class CardAction:
    kind: ActionKind
    label: str
    primary: bool = False


@dataclass(frozen=True)
class ContactCard:
    contact_id: int
    status: ContactStatus
    header: str  # icon, channel and customer: contains customer text
    subject: str  # customer text
    body: str  # customer text, whole; renderers trim it to their platform's limits
    details: tuple[tuple[str, str], ...]  # (label, customer-provided value): phone, email, handle, company
    received: str
    context: Line
    owner: Line | None
    status_line: Line
    questions: tuple[Line, ...]
    actions: tuple[CardAction, ...]
    fallback: str  # notification text: no body, no identities


@dataclass(frozen=True)
class QuestionView:
    """A question as the colleague sees it in their DM."""

    question_id: int
    contact_id: int
    status: QuestionStatus
    intro: Line  # "@Marieke asks you about a contact"
    text: str  # the question (employee text: escaped like any other text)
    contact_header: str
    contact_subject: str
    answer: Line | None
    can_answer: bool
    answer_label: str
    fallback: str


def compose(template: str, **values: object) -> Line:
    """Fill a catalogue template, keeping PersonRef values as separate segments for mentions."""
    segments: list[Segment] = []
    for literal, name, spec, _conv in string.Formatter().parse(template):
        if literal:
            segments.append(literal)
        if name is None:
            continue
        value = values[name]
        segments.append(value if isinstance(value, PersonRef | OnDuty) else format(value, spec or ""))
    return tuple(segments)


def plain(line: Line) -> str:
    return "".join(s if isinstance(s, str) else s.name if isinstance(s, PersonRef) else "" for s in line)


class CardBuilder:
    """Builds views in one language and time zone."""

    def __init__(
        self, catalogue: Catalogue, tz: tzinfo, hours: OfficeHours | None = None, *, minimal: bool = False
    ) -> None:
        # minimal (HANDOFF_CARD_DETAIL=minimal): the shared channel sees the channel, a first name and the
        # subject; phone, email, body and history go privately to whoever claims or is asked.
        self.c, self.tz, self.hours, self.minimal = catalogue, tz, hours, minimal

    def _t(self, key: str, **values: object) -> Line:
        return compose(self.c.template(key), **values)

    def _person(self, details: ContactDetails, person_id: int | None) -> PersonRef | str:
        person = details.person(person_id)
        return PersonRef.of(person) if person else self.c.t("person.unknown")

    def channel_label(self, channel: Channel) -> str:
        return self.c.t(f"channel.{channel.value}")

    def customer_name(self, details: ContactDetails, *, private: bool = False) -> str:
        customer = details.customer
        if not self.minimal or private:
            return customer.label
        first = customer.name.split()[0] if customer.name and customer.name.split() else None
        return first or customer.company or f"#{details.contact.id}"

    def header(self, details: ContactDetails, *, private: bool = False) -> str:
        contact = details.contact
        name = self.customer_name(details, private=private)
        return f"{CHANNEL_ICONS[contact.channel]} {self.channel_label(contact.channel)} · {name}"

    def card(self, details: ContactDetails, *, private: bool = False) -> ContactCard:
        """The card; `private` is the full view for one person (claimant, asked colleague) in minimal mode."""
        contact = details.contact
        assert contact.id is not None
        if contact.redacted_at is not None:
            return self._redacted(details)
        shared_only = self.minimal and not private
        return ContactCard(
            contact_id=contact.id,
            status=contact.status,
            header=self.header(details, private=private),
            subject=contact.subject or self.c.t("card.no_subject"),
            body=self.c.t("card.detail_private") if shared_only else contact.body,
            details=() if shared_only else self._details(details),
            received=self._received(details),
            context=() if shared_only else self._context(details),
            owner=self._owner(details),
            status_line=self._status(details),
            questions=tuple(
                self._question_line(details, q)
                for q in details.questions
                if q.status is not QuestionStatus.CANCELLED
            ),
            actions=self._actions(contact.status),
            fallback=self.c.t(
                "card.fallback",
                channel=self.channel_label(contact.channel),
                id=contact.id,
                status=self.c.t(f"status.{contact.status.value}"),
            ),
        )

    def _redacted(self, details: ContactDetails) -> ContactCard:
        """What remains on the card once personal data is removed: times, channel, who handled it."""
        contact = details.contact
        assert contact.id is not None
        reason = next(
            (str(e.data.get("reason")) for e in reversed(details.timeline) if e.kind is EventKind.REDACTED),
            "erased",
        )
        return ContactCard(
            contact_id=contact.id,
            status=contact.status,
            header=f"{CHANNEL_ICONS[contact.channel]} {self.channel_label(contact.channel)} · #{contact.id}",
            subject=self.c.t(f"redacted.{reason}"),
            body="",
            details=(),
            received=self.c.t(
                "card.received", when=format_datetime(contact.received_at, self.tz, self.c.language)
            ),
            context=(),
            owner=None,
            status_line=self._status(details),
            questions=(),
            actions=(),
            fallback=self.c.t(f"redacted.{reason}"),
        )

    def _received(self, details: ContactDetails) -> str:
        contact = details.contact
        when = format_datetime(contact.received_at, self.tz, self.c.language)
        text = self.c.t("card.received", when=when)
        if self.hours is not None and not self.hours.is_open(contact.received_at):
            text += " · " + self.c.t("card.after_hours")
        if contact.callback_before is not None and contact.status is not ContactStatus.RESOLVED:
            at = format_time(contact.callback_before, self.tz, self.c.language)
            missed = any(
                e.kind is EventKind.REMINDED and e.data.get("reason") == "callback_missed"
                for e in details.timeline
            )
            text += " · " + self.c.t("card.callback_missed" if missed else "card.callback", time=at)
        return text

    def _details(self, details: ContactDetails) -> tuple[tuple[str, str], ...]:
        rows: list[tuple[str, str]] = []
        if details.customer.company and details.customer.name:
            rows.append((self.c.t("card.detail.company"), details.customer.company))
        for identity in details.customer.sorted_identities():
            rows.append(
                (
                    self.c.t(f"card.detail.{identity.kind.value}"),
                    _show_identity(identity.kind, identity.value),
                )
            )
        if files := _attachments(details):
            rows.append((self.c.t("card.detail.attachments"), self._files(files)))
        return tuple(rows)

    def _files(self, files: list[tuple[str, int]]) -> str:
        return ", ".join(f"{name} ({format_size(size, self.c.language)})" for name, size in files)

    def _context(self, details: ContactDetails) -> Line:
        last = details.context.last
        if last is None or details.earlier_count == 0:
            return self._t("card.context.first")
        handler = details.person(last.handled_by)
        key = "card.context.one" if details.earlier_count == 1 else "card.context.many"
        values: dict[str, object] = {
            "count": details.earlier_count,
            "date": format_date(last.received_at, self.tz, self.c.language),
            "status": self.c.t(f"status.{last.status.value}"),
        }
        if handler is None:
            return self._t(f"{key}.nobody", **values)
        # A name, not a mention: a new card must not ping whoever handled the customer last time.
        return self._t(key, name=handler.display_name, **values)

    def _owner(self, details: ContactDetails) -> Line | None:
        owner = details.person(details.context.owner_id)
        return self._t("card.owner", owner=PersonRef.of(owner)) if owner else None

    def _status(self, details: ContactDetails) -> Line:
        contact = details.contact
        if contact.status is ContactStatus.CLAIMED:
            assert contact.claimed_at is not None
            return self._t(
                "card.status.claimed",
                name=self._person(details, contact.claimed_by),
                since=format_time(contact.claimed_at, self.tz, self.c.language),
            )
        if contact.status is ContactStatus.RESOLVED:
            key = "card.status.resolved_outcome" if contact.outcome else "card.status.resolved"
            return self._t(
                key, name=self._person(details, contact.resolved_by), outcome=contact.outcome or ""
            )
        if _overdue(details):
            since = format_time(contact.received_at, self.tz, self.c.language)
            return self._t("card.status.overdue", since=since)
        return self._t("card.status.open")

    def _question_line(self, details: ContactDetails, question: Question) -> Line:
        if question.status is QuestionStatus.ANSWERED:
            return self._t(
                "card.question.answered",
                colleague=self._person(details, question.answered_by),
                asker=self._person(details, question.asker_id),
                answer=question.answer or "",
            )
        return self._t(
            "card.question.open",
            colleague=self._person(details, question.colleague_id),
            asker=self._person(details, question.asker_id),
            question=question.text,
        )

    def _actions(self, status: ContactStatus) -> tuple[CardAction, ...]:
        def action(kind: ActionKind, primary: bool = False) -> CardAction:
            return CardAction(kind, self.c.t(f"action.{kind.value}"), primary)

        if status is ContactStatus.OPEN:
            return (action(ActionKind.CLAIM, True), action(ActionKind.ASK), action(ActionKind.RESOLVE))
        if status is ContactStatus.CLAIMED:
            return (
                action(ActionKind.RESOLVE, True),
                action(ActionKind.ASK),
                action(ActionKind.TRANSFER),
                action(ActionKind.RELEASE),
            )
        return (action(ActionKind.REOPEN),)

    def owner_note(self, details: ContactDetails) -> Line | None:
        """The thread line that tells the relationship owner their customer is back."""
        owner = details.person(details.context.owner_id)
        if owner is None:
            return None
        return self._t("thread.owner", owner=PersonRef.of(owner), customer=self.customer_name(details))

    def reminder_line(self, details: ContactDetails, event: TimelineEvent) -> Line | None:
        reason = event.data.get("reason")
        owner = details.person(details.context.owner_id)
        target: PersonRef | OnDuty = PersonRef.of(owner) if owner else ON_DUTY
        if reason == "unclaimed":
            key = "thread.reminder" if event.data.get("step") == 1 else "thread.overdue"
            return self._t(key, target=target)
        if reason in ("callback_missed", "callback_soon") and details.contact.callback_before is not None:
            at = format_time(details.contact.callback_before, self.tz, self.c.language)
            claimant = details.person(details.contact.claimed_by)
            who: PersonRef | OnDuty = PersonRef.of(claimant) if claimant else target
            return self._t(f"thread.{reason}", time=at, target=who)
        return None

    def thread_line(self, details: ContactDetails, event: TimelineEvent) -> Line | None:
        if event.kind is EventKind.REMINDED:
            return self.reminder_line(details, event)
        actor = self._person(details, event.actor_id)
        if event.kind is EventKind.CLAIMED:
            return self._t("thread.claimed", name=actor)
        if event.kind is EventKind.RELEASED:
            return self._t("thread.released", name=actor)
        if event.kind is EventKind.TRANSFERRED:
            target = self._person(details, event.data.get("to"))
            note = str(event.data.get("note") or "")
            key = "thread.transferred_note" if note else "thread.transferred"
            return self._t(key, name=actor, to=target, note=note)
        if event.kind is EventKind.RESOLVED:
            outcome = str(event.data.get("outcome") or "")
            return self._t(
                "thread.resolved_outcome" if outcome else "thread.resolved", name=actor, outcome=outcome
            )
        if event.kind is EventKind.FOLLOW_UP:
            return self._follow_up(details, event)
        if event.kind is EventKind.REOPENED:
            return (
                self._t("thread.reopened", name=actor) if event.actor_id else self._t("thread.reopened_auto")
            )
        question = _question(details, event.data.get("question_id"))
        if question is None:
            return None
        if event.kind is EventKind.ASKED:
            return self._t(
                "thread.asked",
                asker=actor,
                colleague=self._person(details, question.colleague_id),
                question=question.text,
            )
        if event.kind is EventKind.ANSWERED:
            return self._t(
                "thread.answered",
                colleague=actor,
                asker=self._person(details, question.asker_id),
                answer=question.answer or "",
            )
        if event.kind is EventKind.QUESTION_CANCELLED:
            return self._t("thread.question_cancelled", asker=actor)
        return None

    def _follow_up(self, details: ContactDetails, event: TimelineEvent) -> Line:
        """The customer wrote again: their new text in the thread (not in minimal mode), and the files."""
        customer = self.customer_name(details)
        text = str(event.data.get("text") or "")
        if self.minimal or not text:
            line = self._t("thread.follow_up_short", customer=customer)
        else:
            line = self._t("thread.follow_up", customer=customer, text=text)
        files = _files_of(event)
        if files and not self.minimal:
            line += (" · 📎 " + self._files(files),)
        return line

    def question(self, details: ContactDetails, question: Question) -> QuestionView:
        assert question.id is not None and details.contact.id is not None
        answer = None
        if question.status is QuestionStatus.ANSWERED:
            answer = self._t(
                "dm.answered", name=self._person(details, question.answered_by), answer=question.answer or ""
            )
        elif question.status is QuestionStatus.CANCELLED:
            answer = self._t("dm.cancelled")
        return QuestionView(
            question_id=question.id,
            contact_id=details.contact.id,
            status=question.status,
            intro=self._t("dm.intro", asker=self._person(details, question.asker_id)),
            text=question.text,
            contact_header=self.header(details, private=True),
            contact_subject=details.contact.subject or self.c.t("card.no_subject"),
            answer=answer,
            can_answer=question.status is QuestionStatus.OPEN,
            answer_label=self.c.t("action.answer"),
            fallback=self.c.t("dm.fallback", asker=plain((self._person_text(details, question.asker_id),))),
        )

    def _person_text(self, details: ContactDetails, person_id: int | None) -> str:
        person = details.person(person_id)
        return person.display_name if person else self.c.t("person.unknown")

    def nudge_colleague(self, details: ContactDetails, question: Question) -> Line:
        return self._t("dm.nudge_colleague", asker=self._person(details, question.asker_id))

    def nudge_asker(self, details: ContactDetails, question: Question) -> Line:
        return self._t(
            "dm.nudge_asker", colleague=self._person(details, question.colleague_id), question=question.text
        )

    def transfer_note(self, details: ContactDetails, event: TimelineEvent) -> Line:
        note = str(event.data.get("note") or "")
        key = "dm.transfer_note" if note else "dm.transfer"
        return self._t(key, name=self._person(details, event.actor_id), note=note)


def _overdue(details: ContactDetails) -> bool:
    """Open, and escalated since it last became open (a release or reopen starts the clock again)."""
    if details.contact.status is not ContactStatus.OPEN:
        return False
    for event in reversed(details.timeline):
        if event.kind in (EventKind.RECEIVED, EventKind.RELEASED, EventKind.REOPENED, EventKind.CLAIMED):
            return False
        if (
            event.kind is EventKind.REMINDED
            and event.data.get("reason") == "unclaimed"
            and event.data.get("step", 0) >= 2
        ):
            return True
    return False


def _files_of(event: TimelineEvent) -> list[tuple[str, int]]:
    files = event.data.get("files")
    if not isinstance(files, list):
        return []
    return [(str(f[0]), int(f[1])) for f in files if isinstance(f, list) and len(f) == 2]


def _attachments(details: ContactDetails) -> list[tuple[str, int]]:
    """Files of the mails of this contact, listed (never stored) on the card: name and size."""
    return [
        file
        for event in details.timeline
        if event.kind in (EventKind.RECEIVED, EventKind.FOLLOW_UP)
        for file in _files_of(event)
    ]


def format_size(size: int, language: str) -> str:
    """ "980 B", "12 kB", "2.1 MB" (Dutch: "2,1 MB")."""
    if size < 1000:
        return f"{size} B"
    for unit, factor in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        value = size / factor
        if value < 999.5 or unit == "GB":
            text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
            return f"{text.replace('.', ',') if language == 'nl' else text} {unit}"
    raise AssertionError("unreachable")


def _question(details: ContactDetails, question_id: object) -> Question | None:
    return next((q for q in details.questions if q.id == question_id), None)


def _show_identity(kind: IdentityKind, value: str) -> str:
    if kind is IdentityKind.SOCIAL:
        network, _, handle = value.partition(":")
        return f"@{handle} ({network})"
    return value
