"""Nothing falls through the cracks: durable timers for unclaimed contacts, unanswered questions,
callback promises, the opening digest and the end-of-day summary.

Timers are outbox rows with a due time. When one fires, its use case re-reads the current state, so a
reminder never goes out for a contact that was claimed a second earlier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handoff_bot.domain.contacts import Contact, ContactStatus
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.office_hours import OfficeHours
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.services.effects import record
from handoff_bot.services.ports import Clock, Effect, UnitOfWork, UnitOfWorkFactory

TIMER_CLAIM = "timer.claim"
TIMER_QUESTION = "timer.question"
TIMER_CALLBACK = "timer.callback"
TIMER_DIGEST = "timer.digest"
TIMER_SUMMARY = "timer.summary"
CHANNEL_DIGEST = "channel.digest"
CHANNEL_SUMMARY = "channel.summary"

UNCLAIMED, QUESTION, CALLBACK_SOON, CALLBACK_MISSED = (
    "unclaimed",
    "question",
    "callback_soon",
    "callback_missed",
)
LAST_STEP = 2


@dataclass(frozen=True)
class ReminderPolicy:
    hours: OfficeHours
    claim_minutes: float = 10.0
    question_minutes: float = 15.0
    callback_lead_minutes: float = 10.0
    end_of_day_summary: bool = True


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def timers_for_contact(contact: Contact, policy: ReminderPolicy) -> list[Effect]:
    """Scheduled when a contact arrives: claim reminders, callback promise, opening digest."""
    assert contact.id is not None
    ref = {"contact_id": contact.id}
    timers = [
        Effect(
            TIMER_CLAIM,
            {**ref, "step": 1},
            due_at=policy.hours.add(contact.received_at, policy.claim_minutes),
            fan_out=False,
        )
    ]
    if contact.callback_before is not None:
        promise = _iso(contact.callback_before)
        lead = contact.callback_before - timedelta(minutes=policy.callback_lead_minutes)
        timers += [
            Effect(
                TIMER_CALLBACK,
                {**ref, "promise": promise, "which": CALLBACK_SOON},
                due_at=lead,
                fan_out=False,
            ),
            Effect(
                TIMER_CALLBACK,
                {**ref, "promise": promise, "which": CALLBACK_MISSED},
                due_at=contact.callback_before,
                fan_out=False,
            ),
        ]
    if not policy.hours.is_open(contact.received_at):
        opening = policy.hours.next_opening(contact.received_at)
        timers.append(
            Effect(
                TIMER_DIGEST,
                {"opening": _iso(opening)},
                due_at=opening,
                fan_out=False,
                dedupe=f"digest:{_iso(opening)}",
            )
        )
    return timers


def timers_for_question(question: Question, policy: ReminderPolicy) -> list[Effect]:
    assert question.id is not None
    due = policy.hours.add(question.asked_at, policy.question_minutes)
    return [Effect(TIMER_QUESTION, {"question_id": question.id, "step": 1}, due_at=due, fan_out=False)]


def summary_timer(policy: ReminderPolicy, now: datetime) -> Effect | None:
    """The next end-of-day summary (one per closing time, however often it is asked for)."""
    if not policy.end_of_day_summary:
        return None
    closing = policy.hours.next_closing(now)
    return Effect(
        TIMER_SUMMARY,
        {"closing": _iso(closing)},
        due_at=closing,
        fan_out=False,
        dedupe=f"summary:{_iso(closing)}",
    )


async def _remind(tx: UnitOfWork, contact_id: int, at: datetime, **data: object) -> None:
    await record(tx, TimelineEvent(contact_id, EventKind.REMINDED, at, None, dict(data)))


async def fire_claim_reminder(
    contact_id: int, step: int, *, uow: UnitOfWorkFactory, clock: Clock, policy: ReminderPolicy
) -> bool:
    """Remind (step 1) and escalate (step 2, the card turns overdue) while nobody has claimed it."""
    async with uow() as tx:
        contact = await tx.contacts.get(contact_id)
        if contact.status is not ContactStatus.OPEN:
            return False
        await _remind(tx, contact_id, clock.now(), reason=UNCLAIMED, step=step)
        if step < LAST_STEP:
            due = policy.hours.add(contact.received_at, policy.claim_minutes * (step + 1))
            await tx.outbox.enqueue(
                Effect(TIMER_CLAIM, {"contact_id": contact_id, "step": step + 1}, due_at=due, fan_out=False)
            )
        await tx.commit()
        return True


async def fire_question_reminder(
    question_id: int, step: int, *, uow: UnitOfWorkFactory, clock: Clock, policy: ReminderPolicy
) -> bool:
    """Nudge the colleague (step 1); tell the asker, who may ask someone else (step 2)."""
    async with uow() as tx:
        question = await tx.questions.get(question_id)
        if question.status is not QuestionStatus.OPEN:
            return False
        await _remind(
            tx, question.contact_id, clock.now(), reason=QUESTION, step=step, question_id=question_id
        )
        if step < LAST_STEP:
            due = policy.hours.add(question.asked_at, policy.question_minutes * (step + 1))
            await tx.outbox.enqueue(
                Effect(
                    TIMER_QUESTION, {"question_id": question_id, "step": step + 1}, due_at=due, fan_out=False
                )
            )
        await tx.commit()
        return True


async def fire_callback(
    contact_id: int, promise: str, which: str, *, uow: UnitOfWorkFactory, clock: Clock
) -> bool:
    """Ten minutes before a promised callback the claimant is reminded; at the time, a miss is recorded."""
    async with uow() as tx:
        contact = await tx.contacts.get(contact_id)
        if contact.callback_before is None or _iso(contact.callback_before) != promise:
            return False  # the promise changed since this timer was set
        if contact.status is ContactStatus.RESOLVED:
            return False
        await _remind(tx, contact_id, clock.now(), reason=which, promise=promise)
        await tx.commit()
        return True


async def fire_digest(opening: str, *, uow: UnitOfWorkFactory, policy: ReminderPolicy) -> bool:
    """At opening time: one message listing what came in since closing (only when something did)."""
    opened = datetime.fromisoformat(opening)
    since = policy.hours.last_closing(opened)
    async with uow() as tx:
        page = await tx.contacts.received_between(since, opened)
        if not page:
            return False
        await tx.outbox.enqueue(
            Effect(
                CHANNEL_DIGEST,
                {"since": _iso(since), "until": opening, "contact_ids": [c.id for c in page]},
                dedupe=f"digest:{opening}",
            )
        )
        await tx.commit()
        return True


async def fire_summary(closing: str, *, uow: UnitOfWorkFactory, clock: Clock, policy: ReminderPolicy) -> bool:
    """At closing time: post the day's summary and schedule tomorrow's."""
    closed = datetime.fromisoformat(closing)
    async with uow() as tx:
        await tx.outbox.enqueue(Effect(CHANNEL_SUMMARY, {"closing": closing}, dedupe=f"summary:{closing}"))
        following = summary_timer(policy, closed + timedelta(seconds=1))
        if following is not None:
            await tx.outbox.enqueue(following)
        await tx.commit()
    return True


async def schedule_summary(*, uow: UnitOfWorkFactory, clock: Clock, policy: ReminderPolicy) -> None:
    """Called at start-up: make sure the next summary is scheduled (a no-op when it already is)."""
    timer = summary_timer(policy, clock.now())
    if timer is None:
        return
    async with uow() as tx:
        await tx.outbox.enqueue(timer)
        await tx.commit()
