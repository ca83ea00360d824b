"""Request bodies of the intake API, validated strictly: unknown fields and wrong types are errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from handoff_bot.domain.contacts import Channel

Short = Annotated[str, StringConstraints(max_length=200)]


def _iso_time(value: object) -> datetime:
    # Only ISO-8601 strings: pydantic's lax mode would also read 1700000000 as a Unix time.
    if isinstance(value, str) and len(value) <= 64:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise PydanticCustomError("iso_time", "an ISO-8601 time such as 2026-11-20T10:42:00+01:00")


IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: Short | None = None
    company: Short | None = None
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    phone: Annotated[str, StringConstraints(max_length=50)] | None = None
    handle: Annotated[str, StringConstraints(max_length=100)] | None = None
    network: Annotated[str, StringConstraints(max_length=40)] | None = None


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    channel: Annotated[Channel, Field(strict=False)]
    customer: CustomerIn
    subject: Annotated[str, StringConstraints(max_length=1000)] = ""
    body: str = ""
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    received_at: IsoTime | None = None
    callback_before: IsoTime | None = None


# ---------------------------------------------------------------------- answers (for the OpenAPI document)


class ContactAccepted(BaseModel):
    """201 for a new contact, 200 when `external_id` named one we already had."""

    id: int
    status: str
    customer_id: int
    url: str


class ContactSummary(BaseModel):
    id: int
    status: str
    channel: Channel
    subject: str
    customer_id: int
    source: str
    external_id: str | None
    received_at: str
    received_at_local: str
    claimed_by: int | None
    resolved_by: int | None


class ContactPage(BaseModel):
    items: list[ContactSummary]
    next_cursor: str | None


class ContactDetail(BaseModel):
    """One contact with its customer, context, questions and timeline (see the README)."""

    model_config = ConfigDict(extra="allow")

    id: int
    status: str
    channel: Channel
    subject: str
    body: str
    customer_id: int
    customer: dict[str, object]


class CustomerErased(BaseModel):
    customer_id: int
    contacts: int
    already_erased: bool


class FieldError(BaseModel):
    field: str
    message: str


class ProblemOut(BaseModel):
    """An RFC 9457 problem document (application/problem+json)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
