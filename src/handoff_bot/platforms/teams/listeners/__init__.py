"""Thin Teams listeners: the SDK verified the activity; decode, one service call, show the outcome."""

from __future__ import annotations

from typing import Any

from handoff_bot.platforms.teams.bot import TeamsRouter
from handoff_bot.platforms.teams.deps import TeamsDeps


def register_all(router: TeamsRouter, deps: TeamsDeps) -> None:
    """Each listener module has `register(router, deps)`; the order is the message handlers' order."""
    modules: tuple[Any, ...] = ()
    for module in modules:
        module.register(router, deps)
