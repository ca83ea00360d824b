"""The check the Teams harnesses run on every card the bot sends or returns finds cards in every shape."""

from __future__ import annotations

from tests.fakes.adaptive_cards import ADAPTIVE, cards_in, invalid_cards

GOOD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Contact #1"}]}
BAD = {**GOOD, "actions": [{"type": "Action.Submit", "title": "Log", "style": "shiny"}]}


def test_cards_are_found_in_activities_dialogs_and_invoke_responses() -> None:
    activity = {"type": "message", "attachments": [{"contentType": ADAPTIVE, "content": GOOD}]}
    created = {"isGroup": True, "activity": activity}
    dialog = {"task": {"type": "continue", "value": {"card": {"contentType": ADAPTIVE, "content": BAD}}}}
    refreshed = {"statusCode": 200, "type": ADAPTIVE, "value": BAD}

    assert cards_in(activity) == cards_in(created) == [GOOD]
    assert cards_in(dialog) == cards_in(refreshed) == [BAD]
    assert invalid_cards(created) == []
    assert len(invalid_cards(dialog)) == 1 and "shiny" in invalid_cards(dialog)[0]


def test_a_card_of_another_version_or_with_teams_keys_only_is_judged_rightly() -> None:
    teams_keys = {**GOOD, "msteams": {"width": "Full", "entities": []}}
    assert invalid_cards({"type": ADAPTIVE, "value": teams_keys}) == []
    [problem] = invalid_cards({"type": ADAPTIVE, "value": {**GOOD, "version": "1.6"}})
    assert "not 1.5" in problem
