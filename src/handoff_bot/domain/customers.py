"""Customers and the identities that recognise them across channels."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers

from handoff_bot.domain.errors import InvalidIdentity

_EMAIL = re.compile(r"^[^@\s<>]{1,64}@[^@\s<>]{1,253}\.[^@\s<>.]{2,63}$")
_HANDLE = re.compile(r"^[\w.\-]{1,100}$")
_NETWORK = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,39}$")


class IdentityKind(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    SOCIAL = "social"


@dataclass(frozen=True)
class Identity:
    """A normalised way to recognise a customer; (kind, value) is unique across customers."""

    kind: IdentityKind
    value: str


def normalise_email(raw: str) -> Identity:
    value = raw.strip().lower()
    if not _EMAIL.match(value) or len(value) > 254:
        raise InvalidIdentity(field="email", value=raw)
    return Identity(IdentityKind.EMAIL, value)


def normalise_phone(raw: str, region: str = "NL") -> Identity:
    """E.164, so `06-12345678`, `+31 6 1234 5678` and `0031612345678` are one number."""
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(field="phone", value=raw) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity(field="phone", value=raw)
    return Identity(
        IdentityKind.PHONE, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    )


def normalise_handle(raw: str, network: str | None = None) -> Identity:
    """`instagram:@Jansen` or (`@Jansen`, network=`instagram`) → `instagram:jansen`."""
    text = raw.strip()
    if network is None and ":" in text:
        network, text = text.split(":", 1)
    net = (network or "other").strip().lower()
    handle = text.strip().lstrip("@").lower()
    if not _NETWORK.match(net) or not _HANDLE.match(handle):
        raise InvalidIdentity(field="handle", value=raw)
    return Identity(IdentityKind.SOCIAL, f"{net}:{handle}")


@dataclass
class Customer:
    id: int | None
    name: str | None = None
    company: str | None = None
    owner_id: int | None = None
    identities: set[Identity] = field(default_factory=set)
    erased_at: datetime | None = None

    @property
    def label(self) -> str:
        """What a card calls this customer when it has no better name."""
        if self.name and self.company:
            return f"{self.name} ({self.company})"
        if self.name or self.company:
            return self.name or self.company or ""
        first = self.sorted_identities()
        return first[0].value if first else f"#{self.id}"

    def sorted_identities(self) -> list[Identity]:
        """In a stable order (kind, then value): for listings, exports and cards."""
        return sorted(self.identities, key=lambda i: (i.kind.value, i.value))

    def learn(self, name: str | None, company: str | None, identities: set[Identity]) -> None:
        """Fill in what we did not know; never overwrite what a colleague or earlier contact said."""
        self.name = self.name or name
        self.company = self.company or company
        self.identities |= identities
