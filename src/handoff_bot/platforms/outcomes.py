"""What to tell the person who clicked when a rule said no: one translation for every platform."""

from __future__ import annotations

from collections.abc import Callable

from handoff_bot.domain.errors import (
    AlreadyClaimed,
    AlreadyResolved,
    AskSelf,
    DomainError,
    InvalidIdentity,
    NotClaimant,
    NotClaimed,
    NotFound,
    NotResolved,
    QuestionClosed,
    TransferToSelf,
    Unreachable,
)
from handoff_bot.domain.people import Person
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.services.ports import UnitOfWorkFactory


async def explain(
    error: DomainError,
    *,
    catalogue: Catalogue,
    uow: UnitOfWorkFactory,
    known: Callable[[int], Person | None] | None = None,
) -> str:
    """A short sentence for the user; names people where the error carries their id.

    `known` answers from people the caller saw recently (most refusals name someone who just clicked).
    """

    async def name(person_id: int | None) -> str:
        if person_id is None:
            return catalogue.t("person.unknown")
        seen = known(person_id) if known else None
        if seen is not None:
            return seen.display_name
        async with uow() as tx:
            found = await tx.people.get_many([person_id])
        return found[person_id].display_name if person_id in found else catalogue.t("person.unknown")

    match error:
        case AlreadyClaimed(by=by):
            return catalogue.t("outcome.already_claimed", name=await name(by))
        case NotClaimant(claimant=claimant):
            return catalogue.t("outcome.not_claimant", name=await name(claimant))
        case AlreadyResolved(by=by):
            return catalogue.t("outcome.already_resolved", name=await name(by))
        case NotClaimed():
            return catalogue.t("outcome.not_claimed")
        case NotResolved():
            return catalogue.t("outcome.not_resolved")
        case TransferToSelf():
            return catalogue.t("outcome.transfer_to_self")
        case AskSelf():
            return catalogue.t("outcome.ask_self")
        case QuestionClosed(status="answered", answered_by=by):
            return catalogue.t("outcome.question_answered", name=await name(by))
        case QuestionClosed():
            return catalogue.t("outcome.question_cancelled")
        case NotFound(entity=entity):
            return catalogue.t("outcome.not_found", what=catalogue.t(f"entity.{entity}"))
        case Unreachable(person_id=person_id):
            return catalogue.t("outcome.unreachable", name=await name(person_id))
        case InvalidIdentity(field=field):
            return catalogue.t("outcome.invalid_identity", field=catalogue.t(f"field.{field}"))
    return catalogue.t("outcome.refused")
