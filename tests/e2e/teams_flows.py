"""Activities as Teams sends them for the handoff flows: card clicks, dialogs, mentions, 1:1 messages.

Built on the real payloads in tests/fixtures/teams through TeamsHarness.activity, and sent over HTTP
with real Bot Framework tokens by TeamsHarness.send.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import ClientResponse

from tests.e2e.teams_harness import CHANNEL, TEAM, TeamsHarness

User = tuple[str, str, str, str]  # (Teams user id, Entra object id, name, email)


def mention(user: User) -> dict[str, Any]:
    return {"type": "mention", "text": f"<at>{user[2]}</at>", "mentioned": {"id": user[0], "name": user[2]}}


def in_thread(h: TeamsHarness, activity: dict[str, Any], user: User, root: str) -> dict[str, Any]:
    activity["conversation"] = {
        "id": f"{CHANNEL};messageid={root}",
        "isGroup": True,
        "conversationType": "channel",
    }
    activity["channelData"].update(
        {"teamsChannelId": CHANNEL, "teamsTeamId": TEAM, "channel": {"id": CHANNEL}, "team": {"id": TEAM}}
    )
    activity["from"] = {"id": user[0], "name": user[2], "aadObjectId": user[1]}
    activity["replyToId"] = root
    return activity


def personal(h: TeamsHarness, activity: dict[str, Any], user: User) -> dict[str, Any]:
    """In the user's 1:1 chat with the bot (which exists at the connector once they write in it)."""
    conversation_id = f"a:1{user[1].replace('-', '')}"
    h.connector.messages.setdefault(conversation_id, [])
    activity["conversation"] = {"id": conversation_id, "conversationType": "personal"}
    activity["channelData"] = {"tenant": activity["channelData"]["tenant"]}
    activity["from"] = {"id": user[0], "name": user[2], "aadObjectId": user[1]}
    return activity


def execute(
    h: TeamsHarness, data: dict[str, Any], user: User, *, root: str | None = None, **inputs: str
) -> dict[str, Any]:
    """An Action.Execute click (`adaptiveCard/action` invoke) on a channel card, or in the 1:1 chat."""
    activity = h.activity("adaptiveCard_action_invoke_personal_real")
    activity["value"] = {
        "action": {"type": "Action.Execute", "verb": data["verb"], "data": {**data, **inputs}},
        "trigger": "manual",
    }
    return in_thread(h, activity, user, root) if root else personal(h, activity, user)


def task(
    h: TeamsHarness, invoke: str, data: dict[str, Any], user: User, /, *, root: str, **inputs: str
) -> dict[str, Any]:
    """`task/fetch` (a dialog button) or `task/submit` (the dialog's submit) from a channel card."""
    activity = h.activity("adaptiveCard_action_invoke_personal_real", name=invoke)
    activity["value"] = {"data": {**copy.deepcopy(data), **inputs}, "context": {"theme": "default"}}
    return in_thread(h, activity, user, root)


def submit_message(h: TeamsHarness, data: dict[str, Any], user: User, *, root: str) -> dict[str, Any]:
    """An Action.Submit click in a channel: a message carrying `value` and replyToId (the card)."""
    activity = h.activity("messageBack_card_action_channel_message_docs")
    activity["text"] = ""
    activity["value"] = dict(data)
    return in_thread(h, activity, user, root)


def chat(h: TeamsHarness, text: str, user: User) -> dict[str, Any]:
    """A message the user writes in their 1:1 chat with the bot (no mention needed there)."""
    activity = h.activity("teams_channel_message_thread_reply_real")
    activity.pop("attachments", None)
    activity["entities"] = []
    activity["text"] = text
    return personal(h, activity, user)


def thread_message(
    h: TeamsHarness, text: str, user: User, *, root: str, mentions: list[User]
) -> dict[str, Any]:
    """`@Handoff <text>` in a channel thread; `mentions` are the other people @mentioned in `text`."""
    activity = h.channel_message(text, user=user, root=root)
    activity["entities"] = [activity["entities"][0], *(mention(m) for m in mentions)]
    return activity


def replies_to(h: TeamsHarness, user: User) -> list[dict[str, Any]]:
    """What the bot answered in the user's 1:1 chat during turns (not proactive messages)."""
    conversation_id = f"a:1{user[1].replace('-', '')}"
    return [c.activity or {} for c in h.connector.calls if c.conversation_id == conversation_id]


def replies_in_thread(h: TeamsHarness, root: str) -> list[dict[str, Any]]:
    return [c.activity or {} for c in h.connector.calls_of("reply") if c.conversation_id.endswith(f"={root}")]


async def ok(response: ClientResponse) -> Any:
    assert response.status in (200, 201), f"{response.status}: {await response.text()}"
    return await response.json() if response.content_length else None
