from __future__ import annotations

import asyncio

from handoff_bot.domain.contacts import Channel, ContactStatus
from handoff_bot.domain.errors import AlreadyClaimed
from handoff_bot.services.commands import ClaimContact, CustomerDetails, EnsurePerson, ReceiveContact
from handoff_bot.services.contacts import claim_contact, receive_contact
from handoff_bot.services.people import ensure_person


async def test_twenty_claimers_exactly_one_wins(uow, clock) -> None:
    cmd = ReceiveContact(Channel.PHONE, "api", CustomerDetails(name="Jansen", phone="06-12345678"))
    received = await receive_contact(cmd, uow=uow, clock=clock)
    contact_id = received.contact.id
    assert contact_id is not None
    people = [await ensure_person(EnsurePerson(f"P{i}", f"p{i}@example.org"), uow=uow) for i in range(20)]
    claims = [ClaimContact(contact_id, p.id) for p in people if p.id is not None]
    results = await asyncio.gather(
        *(claim_contact(c, uow=uow, clock=clock) for c in claims), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1
    assert len(losers) == 19
    assert {loser.by for loser in losers} == {winners[0].claimed_by}
    assert winners[0].status is ContactStatus.CLAIMED
