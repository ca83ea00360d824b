"""Request bodies of the intake API, validated strictly: unknown fields and wrong types are errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from handoff_bot.domain.contacts import Channel

Short = Annotated[str, StringConstraints(max_length=200)]


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
    received_at: Annotated[datetime, Field(strict=False)] | None = None
    callback_before: Annotated[datetime, Field(strict=False)] | None = None
