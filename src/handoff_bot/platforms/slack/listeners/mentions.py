"""`@Handoff ask @colleague <question>` written in a contact's thread."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from handoff_bot.domain.errors import DomainError
from handoff_bot.platforms.slack.deps import SlackDeps
from handoff_bot.services.commands import AskQuestion
from handoff_bot.services.questions import ask_question

# "<@UBOT> ask <@UCOLLEAGUE> question…" (Slack may add "|name" inside the mention).
ASK = re.compile(
    r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s+(?:ask|vraag)\s+<@([A-Z0-9]+)(?:\|[^>]*)?>\s*[:,]?\s*(.+)$",
    re.IGNORECASE | re.DOTALL,
)


def register(app: AsyncApp, deps: SlackDeps) -> None:
    async def handle_mention(event: dict[str, Any]) -> None:
        channel, user, thread_ts = event.get("channel"), event.get("user"), event.get("thread_ts")
        match = ASK.match(event.get("text") or "")
        if not channel or not user:
            return
        if match is None:
            await deps.ephemeral(channel, user, deps.catalogue.t("mention.help"))
            return
        contact_id = (
            await deps.messages.contact_for_card("slack", str(channel), str(thread_ts)) if thread_ts else None
        )
        if contact_id is None:
            await deps.ephemeral(channel, user, deps.catalogue.t("mention.not_in_thread"))
            return
        asker = await deps.people.person(str(user))
        colleague = await deps.people.person(match.group(1))
        assert asker.id is not None and colleague.id is not None
        try:
            await ask_question(
                AskQuestion(contact_id, asker.id, colleague.id, match.group(2).strip(), via="slack"),
                uow=deps.uow,
                clock=deps.clock,
                reminders=deps.reminders,
                platforms=deps.platforms,
            )
        except DomainError as error:
            await deps.ephemeral(channel, user, await deps.explain(error))

    app.event("app_mention")(handle_mention)
