"""JSON shapes of the intake API's answers."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from handoff_bot.domain.contacts import Contact
from handoff_bot.domain.people import Person
from handoff_bot.services.views import ContactDetails


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _person(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {"id": person.id, "name": person.display_name, "email": person.email}


def contact_summary(contact: Contact, tz: tzinfo) -> dict[str, Any]:
    return {
        "id": contact.id,
        "status": contact.status.value,
        "channel": contact.channel.value,
        "subject": contact.subject,
        "customer_id": contact.customer_id,
        "source": contact.source,
        "external_id": contact.external_id,
        "received_at": _time(contact.received_at),
        "received_at_local": contact.received_at.astimezone(tz).isoformat(),
        "claimed_by": contact.claimed_by,
        "resolved_by": contact.resolved_by,
    }


def contact_json(details: ContactDetails, tz: tzinfo) -> dict[str, Any]:
    contact, customer, context = details.contact, details.customer, details.context
    person = details.person
    return {
        **contact_summary(contact, tz),
        "body": contact.body,
        "claimed_by": _person(person(contact.claimed_by)),
        "claimed_at": _time(contact.claimed_at),
        "resolved_by": _person(person(contact.resolved_by)),
        "resolved_at": _time(contact.resolved_at),
        "outcome": contact.outcome,
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "company": customer.company,
            "identities": [{"kind": i.kind.value, "value": i.value} for i in customer.sorted_identities()],
        },
        "context": {
            "earlier_count": details.earlier_count,
            "earlier": [
                {
                    "id": e.contact_id,
                    "received_at": _time(e.received_at),
                    "channel": e.channel.value,
                    "subject": e.subject,
                    "status": e.status.value,
                    "handled_by": _person(person(e.handled_by)),
                    "outcome": e.outcome,
                }
                for e in context.earlier
            ],
            "relationship_owner": _person(person(context.owner_id)),
            "owner_is_explicit": context.owner_is_explicit,
        },
        "questions": [
            {
                "id": q.id,
                "asker": _person(person(q.asker_id)),
                "colleague": _person(person(q.colleague_id)),
                "text": q.text,
                "status": q.status.value,
                "answer": q.answer,
                "answered_by": _person(person(q.answered_by)),
                "asked_at": _time(q.asked_at),
                "answered_at": _time(q.answered_at),
            }
            for q in details.questions
        ],
        "timeline": [
            {
                "id": e.id,
                "kind": e.kind.value,
                "at": _time(e.at),
                "actor": _person(person(e.actor_id)),
                "data": e.data,
            }
            for e in details.timeline
        ],
    }
