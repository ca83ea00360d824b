"""Rendering "my desk" (lists of contacts and questions) for slash commands and the Home tab."""

from __future__ import annotations

from datetime import tzinfo

from handoff_bot.i18n.catalogue import Catalogue, format_datetime
from handoff_bot.platforms.cards import CHANNEL_ICONS
from handoff_bot.platforms.slack.blocks import Block, desk_blocks, escape, trim
from handoff_bot.storage.desk import ContactLine, Desk, QuestionLine


def _contact(c: ContactLine, catalogue: Catalogue, tz: tzinfo) -> str:
    when = format_datetime(c.received_at, tz, catalogue.language)
    return (
        f"{CHANNEL_ICONS[c.channel]} *#{c.contact_id}* {escape(trim(c.customer, 80))} — "
        f"{escape(trim(c.subject, 120))} ({when})"
    )


def _question(q: QuestionLine, catalogue: Catalogue, tz: tzinfo) -> str:
    when = format_datetime(q.asked_at, tz, catalogue.language)
    return f"❓ *#{q.contact_id}* {escape(trim(q.text, 200))} ({when})"


def desk_sections(desk: Desk, catalogue: Catalogue, tz: tzinfo, *, which: str = "all") -> list[Block]:
    c = catalogue
    sections: list[tuple[str, list[str], str]] = []
    if which in ("all", "mine"):
        sections.append((c.t("desk.mine"), [_contact(x, c, tz) for x in desk.mine], c.t("desk.mine.empty")))
        sections.append(
            (
                c.t("desk.waiting"),
                [_question(x, c, tz) for x in desk.waiting_for_me],
                c.t("desk.waiting.empty"),
            )
        )
        sections.append(
            (c.t("desk.asked"), [_question(x, c, tz) for x in desk.asked_by_me], c.t("desk.asked.empty"))
        )
    if which in ("all", "open"):
        sections.append((c.t("desk.open"), [_contact(x, c, tz) for x in desk.open], c.t("desk.open.empty")))
    return desk_blocks(sections)
