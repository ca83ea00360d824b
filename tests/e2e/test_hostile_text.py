"""Hostile and oversized text at every door, then a look at everything the fake Slack received.

Customer text, questions, answers, notes and outcomes full of mentions, links, control characters and
sheer size: nothing may ping anyone, link anywhere or break Slack's limits, on any card, DM or line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from handoff_bot import keys
from handoff_bot.domain.contacts import Channel
from handoff_bot.services.commands import CustomerDetails, ReceiveContact
from handoff_bot.services.contacts import receive_contact
from handoff_bot.storage.models import ContactRow, OutboxRow
from tests.e2e.slack_harness import BOT, CHANNEL, JOOP, MARIEKE, PIET, Harness, event, slack_app
from tests.fakes import slack_signing as ss

PINGS = ["<!channel>", "<!here>", "<!everyone>", "<@U0HOSTILE>", "<#C0HOSTILE>", "<!subteam^S0HOSTILE>"]
LINK = "<https://evil.example/login|Reset your password>"
HOSTILE = " ".join(
    [*PINGS, LINK, "*bold* _it_ ~s~ `code` ```block", "&amp; &lt;", "\x00\x07\x1b[2J\x7f", "\u202e"]
)
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
WRITES = (
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "views.open",
    "views.update",
    "views.publish",
)


def parsed_texts(value: Any) -> list[str]:
    """Every string Slack parses for mentions and links: mrkdwn objects and messages' `text`."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        for item in value.values():
            found += parsed_texts(item)
    elif isinstance(value, list):
        for item in value:
            found += parsed_texts(item)
    return found


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


async def story(h: Harness, cid: int) -> None:
    """Claim, ask, answer, transfer, mention and resolve, every text field hostile."""
    await h.click("contact.claim", cid, MARIEKE)
    await h.ask(cid, MARIEKE, PIET, HOSTILE)
    dm = h.slack.messages_in(h.slack.dm_channel_of(PIET))[-1]
    reply = ss.message_event(
        HOSTILE + " " + "lang antwoord " * 2500, user=PIET, channel=dm.channel, thread_ts=dm.ts
    )
    assert (await h.send(*event(reply))).status == 200
    mention = ss.app_mention(
        f"<@{BOT}> ask <@{JOOP}> {HOSTILE}", user=MARIEKE, channel=CHANNEL, thread_ts=h.card(cid).ts
    )
    assert (await h.send(*event(mention))).status == 200
    await h.deliver()
    await h.click("contact.transfer", cid, MARIEKE)
    values = {"colleague": ss.users_select(JOOP), "note": ss.plain_text_input(HOSTILE)}
    assert (await h.interact(ss.view_submission(h.last_view(), values, user=MARIEKE))).status == 200
    await h.deliver()
    await h.click("contact.resolve", cid, JOOP)
    values = {"outcome": ss.plain_text_input(HOSTILE)}
    assert (await h.interact(ss.view_submission(h.last_view(), values, user=JOOP))).status == 200
    await h.deliver()


async def test_hostile_and_huge_text_is_harmless_everywhere_slack_shows_it(tmp_path: Path) -> None:
    async with slack_app(f"sqlite+aiosqlite:///{tmp_path / 'hostile.db'}") as h:
        # Over the API: as much as the 64 KiB cap allows, and a 200 KB body refused with a clear answer.
        big = (HOSTILE + "\n") * 250
        from_api = await h.post_contact(
            subject=HOSTILE,
            body=big,
            customer={"name": HOSTILE[:200], "company": HOSTILE[:200], "phone": "06-12345678"},
        )
        refused = await h.client.post(
            "/api/contacts",
            json={"channel": "email", "customer": {"name": "A"}, "body": "x" * 200_000},
            headers={"Authorization": "Bearer crm-token-0123456789abcdef"},
        )
        assert refused.status == 413 and "64 KiB" in (await refused.json(content_type=None))["detail"]
        # Other doors (email) have no such cap: 200 KB straight into the use case.
        received = await receive_contact(
            ReceiveContact(
                Channel.EMAIL, "mail", CustomerDetails(name=HOSTILE[:200]), HOSTILE, HOSTILE * 1200
            ),
            uow=h.client.app[keys.UOW],
            clock=h.client.app[keys.CLOCK],
        )
        await h.deliver()
        for cid in (from_api["id"], received.contact.id):
            assert cid is not None
            await story(h, cid)

        writes = [(c.method, c.params, c.status) for c in h.slack.calls if c.method in WRITES]
        assert writes and all(status == 200 for _, _, status in writes), [w for w in writes if w[2] != 200]
        for method, params, _ in writes:
            shown = parsed_texts(params.get("blocks")) + parsed_texts(params.get("view"))
            shown += [params["text"]] if isinstance(params.get("text"), str) else []
            for text in shown:
                for ping in [*PINGS, LINK, "<https://evil"]:
                    assert ping not in text, (method, ping, text[:300])
            for text in strings(params):
                assert not CONTROL.search(text), (method, repr(text[:200]))
        async with h.client.app[keys.UOW].sessions() as s:
            dead = await s.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "dead")
            )
            contacts = await s.scalar(select(func.count()).select_from(ContactRow))
        assert dead == 0 and contacts == 2
        assert received.contact.id is not None
        card = json.dumps(h.card(received.contact.id).blocks, ensure_ascii=False)
        assert len(card) < 20_000 and "Message shortened" in card  # the 200 KB body, trimmed with a note
