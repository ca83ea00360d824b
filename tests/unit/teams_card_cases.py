"""Every Adaptive Card the Teams renderers produce, built from realistic (and hostile) views.

Shared by the golden-file tests and the schema test, so a new renderer added here is validated too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from handoff_bot.domain.contacts import Channel, Contact, ContactStatus
from handoff_bot.domain.context import EarlierContact, build_context
from handoff_bot.domain.customers import Customer, Identity, IdentityKind
from handoff_bot.domain.events import EventKind, TimelineEvent
from handoff_bot.domain.people import Person
from handoff_bot.domain.questions import Question, QuestionStatus
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.cards import CardBuilder
from handoff_bot.platforms.teams import cards, dialogs
from handoff_bot.platforms.teams.dialogs import Colleague
from handoff_bot.platforms.teams.presence import Presence
from handoff_bot.services.views import ContactDetails
from handoff_bot.storage.desk import ContactLine, Desk, QuestionLine

AMS = ZoneInfo("Europe/Amsterdam")
T0 = datetime(2026, 11, 23, 9, 42, tzinfo=UTC)
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "teams" / "golden"
AAD_MARIEKE = "6f1c2a9e-0b1d-4c3e-9f7a-1a2b3c4d5e6f"
MARIEKE = Person(1, "Marieke de Vries", "marieke@example.org", None, {"teams": AAD_MARIEKE, "slack": "U0M"})
PIET = Person(2, "Piet <at>Jan</at>", "piet@example.org", None, {"slack": "U0PIET"})  # only on Slack
JAN = Person(3, "Jan", "jan@example.org", None, {"teams": "0c5e1f7a-2b3c-4d5e-8f90-123456789abc"})
HOSTILE = (
    "<at>Marieke de Vries</at> **bold** _it_ ~~s~~ `code` [click](https://evil.example) &lt;b&gt; "
    "{{DATE(2026-01-01T00:00:00Z)}}\n# heading\n- item\n1. first\n> quote"
)


def details(
    *,
    status: ContactStatus = ContactStatus.OPEN,
    body: str = "Two crates of bread arrived broken.\nCan you send new ones today?",
    subject: str = "Broken delivery",
    name: str | None = "Anna Jansen",
    company: str = "Bakkerij Jansen",
    earlier: int = 2,
    owner: int | None = 1,
    questions: tuple[Question, ...] = (),
    redacted: bool = False,
    timeline: tuple[TimelineEvent, ...] = (),
) -> ContactDetails:
    contact = Contact(42, 7, Channel.PHONE, subject, body, T0, "api", status=status)
    if status is not ContactStatus.OPEN:
        contact.claimed_by, contact.claimed_at = 3, T0 + timedelta(minutes=5)
    if status is ContactStatus.RESOLVED:
        contact.resolved_by, contact.resolved_at, contact.outcome = 3, T0 + timedelta(hours=1), "Refunded"
    if redacted:
        contact.redacted_at = T0 + timedelta(days=30)
    customer = Customer(
        7,
        name,
        company,
        owner,
        {Identity(IdentityKind.PHONE, "+31612345678"), Identity(IdentityKind.EMAIL, "anna@jansen.example")},
    )
    history = [
        EarlierContact(
            40 - i,
            T0 - timedelta(days=10 + i),
            Channel.EMAIL,
            "old",
            ContactStatus.RESOLVED,
            2,
            T0 - timedelta(days=10 + i),
            "done",
        )
        for i in range(earlier)
    ]
    context = build_context(7, owner, history)
    people = {1: MARIEKE, 2: PIET, 3: JAN}
    return ContactDetails(contact, customer, questions, timeline, context, earlier, people)


def question(
    status: QuestionStatus = QuestionStatus.OPEN, text: str = "Do we still have rye bread?"
) -> Question:
    q = Question(9, 42, 1, 3, text, T0 + timedelta(minutes=10))
    q.status = status
    if status is QuestionStatus.ANSWERED:
        q.answered_by, q.answer, q.answered_at = 3, "Yes, 12 loaves.", T0 + timedelta(minutes=20)
    return q


def builder(language: str = "en", *, minimal: bool = False) -> CardBuilder:
    return CardBuilder(Catalogue(language), AMS, minimal=minimal)


def contact(view_details: ContactDetails, language: str = "en", **kw: Any) -> dict[str, Any]:
    c = Catalogue(language)
    view = builder(language, minimal=kw.pop("minimal", False)).card(view_details, **kw)
    return cards.contact_card(view, trimmed_note=c.t("card.body_trimmed"))


def question_card(q: Question, *, with_contact: bool = True, language: str = "en") -> dict[str, Any]:
    b, c = builder(language), Catalogue(language)
    d = details(questions=(q,), status=ContactStatus.CLAIMED)
    return cards.question_card(
        b.question(d, q),
        contact=b.card(d, private=True) if with_contact else None,
        trimmed_note=c.t("card.body_trimmed"),
    )


COLLEAGUES = (
    Colleague(1, "Marieke de Vries", Presence.AVAILABLE),
    Colleague(3, "Jan", Presence.BUSY),
    Colleague(4, "Sanne", Presence.AWAY),
    Colleague(2, "Piet <at>Jan</at>", None),
)


def desk(n: int = 2) -> Desk:
    line = ContactLine(
        42,
        Channel.EMAIL,
        "Anna *Jansen*",
        "Where is [my order](https://x.example)?",
        T0,
        ContactStatus.CLAIMED,
    )
    q = QuestionLine(9, 42, "Rye <at>bread</at>?", T0)
    return Desk(mine=(line,) * n, open=(line,) * n, waiting_for_me=(q,), asked_by_me=())


def dialog_card(response: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = response["task"]["value"]["card"]["content"]
    return content


def _huge() -> ContactDetails:
    long_q = tuple(Question(10 + i, 42, 1, 3, "漢" * 3000, T0 + timedelta(minutes=i)) for i in range(8))
    return details(
        body="𝕏漢<at>x</at>" * 5000,
        subject="漢" * 5000,
        name="漢" * 500,
        company="漢" * 500,
        questions=long_q,
        status=ContactStatus.CLAIMED,
    )


def transfer(view_details: ContactDetails, note: str = "Please call her back before 15:00") -> dict[str, Any]:
    b, c = builder(), Catalogue("en")
    event = TimelineEvent(42, EventKind.TRANSFERRED, T0, 1, {"to": 3, "note": note})
    return cards.transfer_card(
        b.transfer_note(view_details, event),
        b.card(view_details, private=True),
        trimmed_note=c.t("card.body_trimmed"),
    )


# name → a function rendering one card (the Adaptive Card content); golden files are kept for all of them.
CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "contact_open": lambda: contact(details()),
    "contact_open_nl": lambda: contact(details(), "nl"),
    "contact_claimed_question": lambda: contact(
        details(status=ContactStatus.CLAIMED, questions=(question(), question(QuestionStatus.ANSWERED)))
    ),
    "contact_resolved": lambda: contact(details(status=ContactStatus.RESOLVED, owner=None, earlier=0)),
    "contact_minimal": lambda: contact(details(), minimal=True),
    "contact_redacted": lambda: contact(
        details(
            redacted=True,
            timeline=(TimelineEvent(42, EventKind.REDACTED, T0, None, {"reason": "erased"}),),
        )
    ),
    "contact_hostile": lambda: contact(details(body=HOSTILE, subject=HOSTILE, name=HOSTILE, company=HOSTILE)),
    "contact_huge": lambda: contact(_huge()),
    "question_open": lambda: question_card(question()),
    "question_open_nl": lambda: question_card(question(), language="nl"),
    "question_answered": lambda: question_card(question(QuestionStatus.ANSWERED)),
    "question_cancelled": lambda: question_card(question(QuestionStatus.CANCELLED), with_contact=False),
    "question_hostile": lambda: question_card(question(text=HOSTILE)),
    "dialog_ask": lambda: dialog_card(
        dialogs.ask_dialog(Catalogue("en"), "📞 Phone · Anna Jansen", 42, COLLEAGUES)
    ),
    "dialog_ask_nobody_known_nl": lambda: dialog_card(
        dialogs.ask_dialog(Catalogue("nl"), "📞 Telefoon · Anna", 42, (), question=HOSTILE)
    ),
    "dialog_ask_many_with_error": lambda: dialog_card(
        dialogs.ask_dialog(
            Catalogue("en"),
            "📞 Phone · Anna",
            42,
            tuple(Colleague(100 + i, f"Colleague {i}", Presence.OFFLINE) for i in range(20)),
            question="Rye?",
            errors={"colleague": Catalogue("en").t("teams.dialog.pick_colleague")},
        )
    ),
    "dialog_transfer": lambda: dialog_card(
        dialogs.transfer_dialog(Catalogue("en"), "📞 Phone · Anna Jansen", 42, COLLEAGUES)
    ),
    "dialog_resolve": lambda: dialog_card(dialogs.resolve_dialog(Catalogue("nl"), "📞 Telefoon · Anna", 42)),
    "dialog_log": lambda: dialog_card(dialogs.log_contact_dialog(Catalogue("en"))),
    "dialog_log_refilled_nl": lambda: dialog_card(
        dialogs.log_contact_dialog(
            Catalogue("nl"),
            values={"channel": "email", "name": HOSTILE, "callback": "15:00", "mine": "mine"},
            errors={"name": Catalogue("nl").t("modal.log.need_customer")},
        )
    ),
    "transfer_dm": lambda: transfer(details(status=ContactStatus.CLAIMED)),
    "transfer_dm_huge_hostile": lambda: transfer(_huge(), note=HOSTILE * 20),
    "list_digest": lambda: cards.list_card(
        "3 contacts waiting since Mon 23 Nov 08:30", ["• 📞 #42 Phone, Mon 23 Nov 10:42"] * 3
    ),
    "list_empty_nl": lambda: cards.list_card("Einde van de dag", []),
    "list_long": lambda: cards.list_card("Summary", [f"• ✉️ #{i} Email — " + "x" * 900 for i in range(80)]),
    "desk_all": lambda: cards.desk_card(desk(), Catalogue("en"), AMS),
    "desk_mine_nl": lambda: cards.desk_card(desk(), Catalogue("nl"), AMS, which="mine"),
    "desk_open_long": lambda: cards.desk_card(desk(40), Catalogue("en"), AMS, which="open"),
    "desk_empty": lambda: cards.desk_card(Desk((), (), (), ()), Catalogue("en"), AMS),
}


def all_strings(payload: object) -> list[str]:
    if isinstance(payload, str):
        return [payload]
    if isinstance(payload, dict):
        return [s for v in payload.values() for s in all_strings(v)]
    if isinstance(payload, list):
        return [s for v in payload for s in all_strings(v)]
    return []
