"""Employees: the people who pick up, claim, ask and answer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Person:
    id: int | None
    display_name: str
    email: str | None = None
    location: str | None = None
    # platform name → that platform's user id (e.g. {"slack": "U123", "teams": "<aad object id>"});
    # email is what joins one person's identities across platforms.
    identities: dict[str, str] = field(default_factory=dict)
