"""Slack's ask and transfer forms: Slack's own user picker, plus the colleagues who are only on Teams."""

from __future__ import annotations

from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.platforms.slack import modals
from handoff_bot.platforms.slack.actions import decode, person_ref


def _blocks(view: modals.View) -> dict[str, dict[str, object]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def test_without_teams_only_colleagues_the_form_is_unchanged() -> None:
    blocks = _blocks(modals.ask_modal(Catalogue("en"), "header", "v1:c:1"))
    assert list(blocks) == ["colleague", "question"]
    assert blocks["colleague"]["optional"] is False


def test_teams_only_colleagues_get_a_second_picker_and_both_become_optional() -> None:
    others = [(person_ref(i), f"Colleague {i}") for i in range(1, 151)]
    for view in (
        modals.ask_modal(Catalogue("nl"), "header", "v1:c:1", others=others),
        modals.transfer_modal(Catalogue("nl"), "header", "v1:c:1", others=others),
    ):
        blocks = _blocks(view)
        assert blocks["colleague"]["optional"] is True and blocks["colleague_other"]["optional"] is True
        element = blocks["colleague_other"]["element"]
        assert isinstance(element, dict) and element["type"] == "static_select"
        assert len(element["options"]) == modals.OPTIONS_MAX  # Slack's limit
        assert blocks["colleague_other"]["label"] == {
            "type": "plain_text",
            "text": "…of een collega op Teams",
            "emoji": True,
        }


def test_a_person_value_decodes_only_as_a_person() -> None:
    assert decode(person_ref(42), "p") == 42
    assert decode(person_ref(42), "c") is None and decode("v1:p:0", "p") is None


def test_the_submitted_pick_is_read_from_the_static_select() -> None:
    view = {
        "state": {
            "values": {
                "colleague_other": {
                    "colleague_other": {"type": "static_select", "selected_option": {"value": "v1:p:7"}}
                },
                "colleague": {"colleague": {"type": "users_select", "selected_user": None}},
            }
        }
    }
    assert modals.values(view) == {"colleague_other": "v1:p:7", "colleague": None}
