"""Which chat side effects follow from which timeline event: the one place that decides it."""

from __future__ import annotations

from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.services.ports import Effect, UnitOfWork

CARD_POST = "card.post"
CARD_REFRESH = "card.refresh"
THREAD_NOTE = "thread.note"
THREAD_OWNER = "thread.owner"  # tells the relationship owner their customer is back
DM_QUESTION = "dm.question"
DM_QUESTION_CLOSED = "dm.question_closed"
DM_TRANSFER = "dm.transfer"
DM_QUESTION_NUDGE = "dm.question_nudge"  # the colleague: someone is waiting for your answer
DM_ASKER_NUDGE = "dm.asker_nudge"  # the asker: no answer yet, ask someone else?
DM_CALLBACK = "dm.callback"  # the claimant: you promised to call back soon
NOTICE = "notice"  # one line only the person who clicked sees (Slack: an ephemeral message)
PRIVATE_DETAILS = "notice.details"  # minimal cards: the claimant alone sees the customer's details
EMAIL_ACK = "email.ack"  # the customer who emailed: a colleague has picked up your mail

# Events that change what the card shows and deserve a line in the customer's thread.
_CARD_CHANGING = {
    EventKind.CLAIMED,
    EventKind.RELEASED,
    EventKind.TRANSFERRED,
    EventKind.RESOLVED,
    EventKind.REOPENED,
    EventKind.ASKED,
    EventKind.ANSWERED,
    EventKind.QUESTION_CANCELLED,
    EventKind.FOLLOW_UP,
}


def contact_key(contact_id: int) -> str:
    """Rows about one contact are delivered in order: the card exists before its thread lines."""
    return f"contact:{contact_id}"


def effects_of(event: TimelineEvent) -> list[Effect]:
    assert event.id is not None, "effects refer to stored events"
    key = contact_key(event.contact_id)
    ref = {"contact_id": event.contact_id, "event_id": event.id}
    if event.kind is EventKind.RECEIVED:
        first = {"contact_id": event.contact_id}
        return [Effect(CARD_POST, first, key), Effect(THREAD_OWNER, first, key)]
    if event.kind is EventKind.REMINDED:
        return _reminder_effects(event, key, ref)
    if event.kind not in _CARD_CHANGING:
        return []
    # A person just did this and watches the card change: ahead of a burst of new cards.
    effects = [
        Effect(CARD_REFRESH, {"contact_id": event.contact_id}, key, urgent=True),
        Effect(THREAD_NOTE, ref, key, urgent=True),
    ]
    if event.kind is EventKind.TRANSFERRED:
        effects.append(Effect(DM_TRANSFER, ref, key, urgent=True))
    if event.kind is EventKind.CLAIMED and event.data.get("channel") == "email":
        # One acknowledgement per contact ever, however often it is released and claimed again;
        # the handler sends it only when HANDOFF_ACK_EMAIL is on.
        effects.append(Effect(EMAIL_ACK, ref, key, fan_out=False, dedupe=f"email.ack:{event.contact_id}"))
    if event.kind is EventKind.ASKED:
        effects.append(Effect(DM_QUESTION, {**ref, "question_id": event.data["question_id"]}, key))
    if event.kind in (EventKind.ANSWERED, EventKind.QUESTION_CANCELLED):
        effects.append(Effect(DM_QUESTION_CLOSED, {**ref, "question_id": event.data["question_id"]}, key))
    return effects


def _reminder_effects(event: TimelineEvent, key: str, ref: dict[str, int]) -> list[Effect]:
    reason = event.data.get("reason")
    if reason == "question":
        kind = DM_QUESTION_NUDGE if event.data.get("step") == 1 else DM_ASKER_NUDGE
        return [Effect(kind, {**ref, "question_id": event.data["question_id"]}, key)]
    if reason == "callback_soon":
        return [Effect(DM_CALLBACK, ref, key)]
    # Unclaimed and missed-callback reminders show on the card and in the thread for everyone.
    return [Effect(CARD_REFRESH, {"contact_id": event.contact_id}, key), Effect(THREAD_NOTE, ref, key)]


async def record(uow: UnitOfWork, event: TimelineEvent) -> TimelineEvent:
    """Append the event to the timeline and enqueue its side effects, in the caller's transaction."""
    stored = await uow.timeline.append(event)
    for effect in effects_of(stored):
        await uow.outbox.enqueue(effect)
    return stored


def notice(platform: str, where: dict[str, str], text: str) -> Effect:
    """A private answer to someone's click on `platform`: why it was refused, a hint. `where` says
    where they clicked (Slack: channel and user). Urgent: they are looking at the screen for it."""
    return Effect(NOTICE, {**where, "text": text}, platform=platform, urgent=True)


def private_details(platform: str, where: dict[str, str], contact_id: int) -> Effect:
    """The claimant's private view of a minimal card. Only the contact id is stored: the details
    are read when delivered, so the outbox never holds a copy that privacy erasure would miss."""
    return Effect(
        PRIVATE_DETAILS,
        {**where, "contact_id": contact_id},
        contact_key(contact_id),
        platform=platform,
        urgent=True,
    )
