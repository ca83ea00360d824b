"""The Teams conversation store on SQLite and PostgreSQL: upserts, what is kept, races, removal."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handoff_bot.storage.models import TeamsConversationRow
from handoff_bot.storage.teams_refs import CHANNEL, PERSONAL, TeamsConversation, TeamsConversations

TEAM, GENERAL, CONTACTS = "19:team@thread.tacv2", "19:team@thread.tacv2", "19:contacts@thread.tacv2"


def channel(channel_id: str, service_url: str = "https://smba.example/emea/", **kw: str) -> TeamsConversation:
    return TeamsConversation(
        channel_id,
        CHANNEL,
        service_url,
        kw.get("tenant", "t1"),
        kw.get("team"),
        channel_id,
        reference={"x": 1},
    )


async def count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(TeamsConversationRow)) or 0)


async def test_a_later_activity_refreshes_the_reference_but_keeps_what_it_lacks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = TeamsConversations(sessions)
    await store.save(channel(CONTACTS, team=TEAM))

    await store.save(TeamsConversation(CONTACTS, CHANNEL, "https://smba.example/amer/", None, None, CONTACTS))

    stored = await store.channel(CONTACTS)
    assert stored is not None
    assert stored.service_url == "https://smba.example/amer/"  # service urls move
    assert (stored.tenant_id, stored.team_id) == ("t1", TEAM)  # known facts are kept
    assert await count(sessions) == 1


async def test_concurrent_first_sightings_store_one_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = TeamsConversations(sessions)

    await asyncio.gather(*(store.save(channel(CONTACTS, team=TEAM)) for _ in range(8)))

    assert await count(sessions) == 1


async def test_personal_chats_are_found_by_teams_id_or_entra_id(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = TeamsConversations(sessions)
    chat = TeamsConversation(
        "a:1chat", PERSONAL, "https://smba.example/emea/", "t1", user_id="29:1piet", aad_object_id="aad-piet"
    )
    await store.save(chat)

    assert await store.personal(user_id="29:1piet") == chat
    assert await store.personal(aad_object_id="aad-piet") == chat
    assert await store.personal(aad_object_id="aad-someone-else") is None
    assert await store.personal() is None


async def test_removing_the_bot_from_a_team_forgets_its_channels_only(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = TeamsConversations(sessions)
    await store.save(channel(GENERAL, team=TEAM))
    await store.save(channel(CONTACTS, team=TEAM))
    await store.save(channel("19:other@thread.tacv2", team="19:other-team@thread.tacv2"))

    assert await store.remove_team(TEAM) == 2

    assert await store.channel(CONTACTS) is None
    remaining = await store.any_channel()
    assert remaining is not None and remaining.conversation_id == "19:other@thread.tacv2"


async def test_settings_are_set_replaced_and_deleted(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = TeamsConversations(sessions)

    await store.set_setting("contacts_channel", CONTACTS)
    await store.set_setting("contacts_channel", "19:new@thread.tacv2")
    assert await store.setting("contacts_channel") == "19:new@thread.tacv2"

    await store.delete_setting("contacts_channel")
    assert await store.setting("contacts_channel") is None


async def test_the_channel_to_start_chats_from_prefers_the_bots_own_tenant(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = TeamsConversations(sessions)
    await store.save(channel(CONTACTS, tenant="home"))
    await store.save(channel("19:partner@thread.tacv2", tenant="partner"))  # seen last

    home = await store.any_channel("home")
    latest = await store.any_channel()
    unknown = await store.any_channel("nobody-here")

    assert home is not None and home.tenant_id == "home"
    assert latest is not None and latest.tenant_id == "partner"
    assert unknown is not None and unknown.tenant_id == "partner"  # none of that tenant: the latest
