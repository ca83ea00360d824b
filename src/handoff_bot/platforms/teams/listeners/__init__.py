"""Thin Teams listeners: the SDK verified the activity; decode, one service call, show the outcome."""

from __future__ import annotations

from typing import Any

from handoff_bot.platforms.teams.bot import TeamsRouter
from handoff_bot.platforms.teams.deps import TeamsDeps
from handoff_bot.platforms.teams.listeners import cards, dialogs, messages
from handoff_bot.platforms.teams.listeners.flow import Flow
from handoff_bot.platforms.teams.people import TeamsPeople


def register_all(router: TeamsRouter, deps: TeamsDeps) -> None:
    """Each listener module has `register(router, flow)`; the order is the message handlers' order.

    Card submits (messages with `value`) are looked at before commands and chat answers.
    """
    flow = Flow(deps, TeamsPeople(deps.uow, directory=lambda: deps.directory), deps.platforms)
    modules: tuple[Any, ...] = (cards, dialogs, messages)
    for module in modules:
        module.register(router, flow)
