"""Presence as the ask dialog shows it, read from Microsoft Graph's `availability`."""

from __future__ import annotations

import enum


class Presence(enum.StrEnum):
    AVAILABLE = "available"
    BUSY = "busy"
    AWAY = "away"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


ICONS = {
    Presence.AVAILABLE: "🟢",
    Presence.BUSY: "🔴",
    Presence.AWAY: "🟡",
    Presence.OFFLINE: "⚪",
    Presence.UNKNOWN: "⚪",
}

# Graph availability values (presence resource): several map onto one of ours.
_GRAPH = {
    "Available": Presence.AVAILABLE,
    "AvailableIdle": Presence.AVAILABLE,
    "Busy": Presence.BUSY,
    "BusyIdle": Presence.BUSY,
    "DoNotDisturb": Presence.BUSY,
    "Away": Presence.AWAY,
    "BeRightBack": Presence.AWAY,
    "Offline": Presence.OFFLINE,
    "PresenceUnknown": Presence.UNKNOWN,
}


def from_graph(availability: object) -> Presence:
    return _GRAPH.get(availability, Presence.UNKNOWN) if isinstance(availability, str) else Presence.UNKNOWN
