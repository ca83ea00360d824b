"""Conversation references from activities, and back: what lets the bot post after a restart.

The tenant is read from `channelData.tenant.id` (defect 5: the Python schema drops
`conversation.tenantId`) and stored with the reference, so proactive calls can send it again.
"""

from __future__ import annotations

from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount, ConversationReference

from handoff_bot.storage.teams_refs import CHANNEL, GROUP, PERSONAL, TeamsConversation

THREAD_MARK = ";messageid="


def tenant_of(activity: Activity) -> str | None:
    tenant = _id_in(_channel_data(activity), "tenant")
    if tenant:
        return str(tenant)
    return getattr(activity.conversation, "tenant_id", None) or None


def _channel_data(activity: Activity) -> dict[str, Any]:
    return activity.channel_data if isinstance(activity.channel_data, dict) else {}


def _id_in(data: dict[str, Any], key: str) -> Any:
    """`data[key]["id"]`, None when either is missing or not an object (channelData is free-form)."""
    inner = data.get(key)
    return inner.get("id") if isinstance(inner, dict) else None


def channel_of(activity: Activity) -> str | None:
    """The Teams channel (19:…@thread.tacv2) an activity happened in, None outside channels."""
    data = _channel_data(activity)
    channel = _id_in(data, "channel") or data.get("teamsChannelId")
    if channel:
        return str(channel)
    conversation = activity.conversation
    if conversation is not None and conversation.conversation_type == "channel" and conversation.id:
        return str(conversation.id).split(THREAD_MARK, 1)[0]
    return None


def team_of(activity: Activity) -> str | None:
    data = _channel_data(activity)
    team = _id_in(data, "team") or data.get("teamsTeamId")
    return str(team) if team else None


def thread_root(conversation_id: str) -> str | None:
    """The root message id of a channel thread conversation (`19:…;messageid=123` → `123`)."""
    _, mark, root = conversation_id.partition(THREAD_MARK)
    return root if mark and root else None


def conversation_of(activity: Activity) -> TeamsConversation | None:
    """The stored form of where `activity` happened; a channel thread is stored as its channel."""
    conversation = activity.conversation
    if conversation is None or not conversation.id or not activity.service_url:
        return None
    tenant = tenant_of(activity)
    reference = TurnContext.get_conversation_reference(activity)
    kind = conversation.conversation_type or ("channel" if channel_of(activity) else PERSONAL)
    if kind == "channel":
        channel = channel_of(activity) or str(conversation.id).split(THREAD_MARK, 1)[0]
        reference.conversation = ConversationAccount(
            id=channel, is_group=True, conversation_type="channel", tenant_id=tenant
        )
        reference.activity_id = None
        return TeamsConversation(
            channel,
            CHANNEL,
            activity.service_url,
            tenant,
            team_of(activity),
            channel,
            reference=_serialise(reference),
        )
    if kind == "personal":
        user = activity.from_property
        # Bot-only events (installationUpdate) may come from the bot side; the user is then unknown.
        user_id = user.id if user is not None and user.id and not user.id.startswith("28:") else None
        aad = getattr(user, "aad_object_id", None) if user_id else None
        reference.activity_id = None
        return TeamsConversation(
            str(conversation.id),
            PERSONAL,
            activity.service_url,
            tenant,
            user_id=user_id,
            aad_object_id=aad,
            reference=_serialise(reference),
        )
    reference.activity_id = None
    return TeamsConversation(
        str(conversation.id), GROUP, activity.service_url, tenant, reference=_serialise(reference)
    )


def _serialise(reference: ConversationReference) -> dict[str, Any]:
    data: dict[str, Any] = reference.serialize()
    return data


def reference_of(stored: TeamsConversation, *, conversation_id: str | None = None) -> ConversationReference:
    """The ConversationReference to continue; `conversation_id` targets a thread of a stored channel."""
    reference = ConversationReference().deserialize(dict(stored.reference))
    reference.service_url = stored.service_url
    reference.channel_id = reference.channel_id or "msteams"
    target = conversation_id or stored.conversation_id
    reference.conversation = ConversationAccount(
        id=target,
        is_group=stored.kind != PERSONAL,
        conversation_type="channel" if stored.kind == CHANNEL else stored.kind,
        tenant_id=stored.tenant_id,
    )
    reference.activity_id = None
    return reference


def bot_account(stored: TeamsConversation) -> ChannelAccount | None:
    reference = ConversationReference().deserialize(dict(stored.reference))
    return reference.bot
