"""One queue across Slack and Teams: both configured, one database, one worker, real protocols."""

from __future__ import annotations

from typing import Any

from handoff_bot import keys
from handoff_bot.services.commands import EnsurePerson
from handoff_bot.services.people import ensure_person
from tests.conftest import Database
from tests.e2e import teams_flows as tf
from tests.e2e.cross_harness import SANNE, Both, both_app
from tests.e2e.slack_harness import MARIEKE as SLACK_MARIEKE
from tests.e2e.slack_harness import PIET as SLACK_PIET
from tests.fakes import slack_requests as sr


def _engine(database: Database) -> dict[str, Any]:
    if database.schema is None:
        return {}
    return {"connect_args": {"server_settings": {"search_path": database.schema}}}


async def _people(b: Both) -> dict[str, Any]:
    async with b.slack.client.app[keys.UOW]() as tx:
        return {p.display_name: p for p in await tx.people.all()}


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any] | None:
    return next((blk for blk in view["blocks"] if blk.get("block_id") == block_id), None)


async def test_the_slack_ask_form_offers_colleagues_who_are_only_on_teams(database: Database) -> None:
    async with both_app(database.url, engine_options=_engine(database)) as b:
        # Sanne has only ever used Teams; Joop is in the people list but on no chat platform at all.
        await tf.ok(await b.teams.send(tf.chat(b.teams, "my contacts", SANNE)))
        await ensure_person(EnsurePerson("Joop", "joop@example.org"), uow=b.slack.client.app[keys.UOW])
        contact = await b.slack.post_contact(subject="Oven broke down")
        cid = contact["id"]
        await b.deliver()

        assert (await b.slack.click("contact.ask", cid, SLACK_MARIEKE)).status == 200
        view = b.slack.last_view()
        others = _block(view, "colleague_other")
        assert others is not None and _block(view, "colleague") is not None
        offered = {o["text"]["text"]: o["value"] for o in others["element"]["options"]}
        assert list(offered) == ["Sanne"]  # not Joop (unreachable), not the Slack users (Slack's own picker)

        both = await b.slack.interact(
            sr.submit(
                view,
                {
                    "colleague": sr.user_select(SLACK_PIET),
                    "colleague_other": {
                        "type": "static_select",
                        "selected_option": {"value": offered["Sanne"]},
                    },
                    "question": sr.text_input("Is the oven under warranty?"),
                },
                user=SLACK_MARIEKE,
            )
        )
        assert (await both.json())["errors"] == {
            "colleague_other": "Pick one colleague: in Slack or on Teams, not both."
        }

        asked = await b.slack.interact(
            sr.submit(
                view,
                {
                    "colleague_other": {
                        "type": "static_select",
                        "selected_option": {"value": offered["Sanne"]},
                    },
                    "question": sr.text_input("Is the oven under warranty?"),
                },
                user=SLACK_MARIEKE,
            )
        )
        assert asked.status == 200 and await asked.text() == ""
        async with b.slack.client.app[keys.UOW]() as tx:
            [question] = await tx.questions.for_contact(cid)
            timeline = await tx.timeline.for_contact(cid)
        people = await _people(b)
        assert question.colleague_id == people["Sanne"].id
        assert [e.data.get("via") for e in timeline if e.data.get("question_id") == question.id] == ["slack"]
        await b.deliver()
        # Slack sends no DM to someone who is not on Slack.
        assert not b.slack.slack.calls_to("conversations.open")


async def test_asking_someone_on_no_chat_platform_is_refused_with_a_clear_reason(database: Database) -> None:
    async with both_app(database.url, engine_options=_engine(database)) as b:
        joop = await ensure_person(EnsurePerson("Joop", "joop@example.org"), uow=b.slack.client.app[keys.UOW])
        await tf.ok(await b.teams.send(tf.chat(b.teams, "my contacts", SANNE)))
        contact = await b.slack.post_contact(subject="Oven broke down")
        await b.deliver()
        await b.slack.click("contact.ask", contact["id"], SLACK_MARIEKE)
        view = b.slack.last_view()

        forged = await b.slack.interact(
            sr.submit(
                view,
                {
                    "colleague_other": {
                        "type": "static_select",
                        "selected_option": {"value": f"v1:p:{joop.id}"},
                    },
                    "question": sr.text_input("Anyone?"),
                },
                user=SLACK_MARIEKE,
            )
        )

        why = "Joop is on neither Slack nor Teams here, so they cannot be reached. Pick someone else."
        assert (await forged.json())["errors"] == {"colleague_other": why}
        async with b.slack.client.app[keys.UOW]() as tx:
            assert await tx.questions.for_contact(contact["id"]) == []
