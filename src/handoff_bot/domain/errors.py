"""Typed domain errors. They carry data, never prose: each edge translates them once."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """Base of every rule violation the domain reports."""

    code: str = "domain_error"

    def __str__(self) -> str:  # a readable repr for logs; user text comes from the catalogue
        # Fields named in `private` may hold customer data (an email, a phone number): never in logs.
        private = getattr(self, "private", ())
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k not in private)
        return f"{type(self).__name__}({fields})"


@dataclass(eq=False)
class NotFound(DomainError):
    entity: str
    key: object
    code = "not_found"


@dataclass(eq=False)
class AlreadyClaimed(DomainError):
    contact_id: int
    by: int
    code = "already_claimed"


@dataclass(eq=False)
class NotClaimed(DomainError):
    contact_id: int
    code = "not_claimed"


@dataclass(eq=False)
class NotClaimant(DomainError):
    contact_id: int
    claimant: int
    code = "not_claimant"


@dataclass(eq=False)
class AlreadyResolved(DomainError):
    contact_id: int
    by: int | None
    code = "already_resolved"


@dataclass(eq=False)
class NotResolved(DomainError):
    contact_id: int
    code = "not_resolved"


@dataclass(eq=False)
class TransferToSelf(DomainError):
    contact_id: int
    code = "transfer_to_self"


@dataclass(eq=False)
class QuestionClosed(DomainError):
    question_id: int
    status: str
    answered_by: int | None
    code = "question_closed"


@dataclass(eq=False)
class AskSelf(DomainError):
    person_id: int
    code = "ask_self"


@dataclass(eq=False)
class InvalidIdentity(DomainError):
    """A customer identity (email, phone, handle) that cannot be normalised."""

    field: str
    value: str
    code = "invalid_identity"
    private = ("value",)


@dataclass(eq=False)
class ConcurrentUpdate(DomainError):
    """Someone else changed the row between our read and our write; reload and decide again."""

    entity: str
    key: object
    code = "concurrent_update"


@dataclass(eq=False)
class Unreachable(DomainError):
    """The person is on none of the configured chat platforms, so nobody could tell them anything."""

    person_id: int
    code = "unreachable"
