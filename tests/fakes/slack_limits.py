"""The Block Kit and message limits Slack enforces, as the fake Slack Web API checks them.

Documented limits come from the Block Kit reference; the total-text limit (`msg_blocks_too_long`) is
undocumented and measured at roughly 12,000 characters. Problems are reported like Slack does:
a reason with a `[json-pointer:/blocks/…]` suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Json = dict[str, Any]

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
MESSAGE_TEXT = 40_000  # top-level `text`: msg_too_long beyond this
MESSAGE_BLOCKS_TEXT = 12_000  # all text inside a message's blocks: msg_blocks_too_long beyond this
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
BUTTON_URL = 3000
ID_LENGTH = 255  # action_id, block_id, callback_id, external_id
ACTIONS_ELEMENTS = 25
CONTEXT_ELEMENTS = 10
OPTION_TEXT = 75
OPTION_VALUE = 150
SELECT_OPTIONS = 100
CHOICE_OPTIONS = 10  # checkboxes, radio_buttons
PLACEHOLDER_TEXT = 150
INPUT_LABEL = 2000
INPUT_HINT = 2000
TEXT_INPUT_LENGTH = 3000
VIEW_TITLE = 24
VIEW_BUTTON = 24
PRIVATE_METADATA = 3000
VIEW_TYPES = ("modal", "home")

BLOCK_TYPES = frozenset(
    {
        "section",
        "actions",
        "context",
        "divider",
        "header",
        "image",
        "input",
        "rich_text",
        "markdown",
        "file",
        "video",
    }
)
SELECTS = frozenset(
    {
        "static_select",
        "external_select",
        "users_select",
        "conversations_select",
        "channels_select",
        "multi_static_select",
        "multi_external_select",
        "multi_users_select",
        "multi_conversations_select",
        "multi_channels_select",
    }
)
INTERACTIVE = SELECTS | {
    "button",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
}


def message_problems(blocks: list[Any]) -> list[str]:
    """Why Slack would answer `invalid_blocks` to these message blocks (empty when it would not)."""
    return _blocks(blocks, MESSAGE_BLOCKS, "/blocks")


def view_problems(view: Json) -> list[str]:
    """Why Slack would answer `invalid_arguments` to this view (empty when it would not)."""
    problems: list[str] = []
    kind = view.get("type")
    if kind not in VIEW_TYPES:
        problems.append(f"must be one of {list(VIEW_TYPES)} [json-pointer:/view/type]")
    if kind == "modal":
        problems += _text(view.get("title"), "/view/title", VIEW_TITLE, plain=True)
    for button in ("submit", "close"):
        if view.get(button) is not None:
            problems += _text(view[button], f"/view/{button}", VIEW_BUTTON, plain=True)
    if len(str(view.get("private_metadata") or "")) > PRIVATE_METADATA:
        problems.append(
            f"must be less than {PRIVATE_METADATA + 1} characters [json-pointer:/view/private_metadata]"
        )
    for key in ("callback_id", "external_id"):
        if len(str(view.get(key) or "")) > ID_LENGTH:
            problems.append(f"must be less than {ID_LENGTH + 1} characters [json-pointer:/view/{key}]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return [*problems, "must provide an array [json-pointer:/view/blocks]"]
    problems += _blocks(blocks, VIEW_BLOCKS, "/view/blocks")
    if kind == "modal" and view.get("submit") is None and any(b.get("type") == "input" for b in blocks):
        problems.append("a modal with input blocks must have a submit button [json-pointer:/view/submit]")
    return problems


def text_length(value: Any) -> int:
    """Characters of every text object inside `value`, which Slack caps across a message's blocks."""
    return sum(len(text) for text in _texts(value))


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere inside a JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
            yield value["text"]
            return
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def _blocks(blocks: list[Any], limit: int, where: str) -> list[str]:
    if len(blocks) > limit:
        return [f"no more than {limit} items allowed [json-pointer:{where}]"]
    problems: list[str] = []
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        at = f"{where}/{index}"
        if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
            problems.append(f"unsupported type [json-pointer:{at}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > ID_LENGTH:
                problems.append(f"must be less than {ID_LENGTH + 1} characters [json-pointer:{at}/block_id]")
            if block_id in seen:
                problems.append(f"duplicate block_id {block_id!r} [json-pointer:{at}/block_id]")
            seen.add(str(block_id))
        problems += _block(block, at)
    return problems


def _block(block: Json, at: str) -> list[str]:
    kind = block["type"]
    if kind == "section":
        return _section(block, at)
    if kind == "header":
        return _text(block.get("text"), f"{at}/text", HEADER_TEXT, plain=True)
    if kind == "actions":
        return _elements(block.get("elements"), f"{at}/elements", ACTIONS_ELEMENTS)
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= CONTEXT_ELEMENTS:
            return [f"must provide 1 to {CONTEXT_ELEMENTS} elements [json-pointer:{at}/elements]"]
        problems: list[str] = []
        for i, element in enumerate(elements):
            if isinstance(element, dict) and element.get("type") in ("plain_text", "mrkdwn"):
                problems += _text(element, f"{at}/elements/{i}", SECTION_TEXT)
        return problems
    if kind == "input":
        problems = _text(block.get("label"), f"{at}/label", INPUT_LABEL, plain=True)
        if block.get("hint") is not None:
            problems += _text(block["hint"], f"{at}/hint", INPUT_HINT, plain=True)
        return problems + _element(block.get("element"), f"{at}/element")
    return []


def _section(block: Json, at: str) -> list[str]:
    if block.get("text") is None and block.get("fields") is None:
        return [f"must provide text or fields [json-pointer:{at}]"]
    problems: list[str] = []
    if block.get("text") is not None:
        problems += _text(block["text"], f"{at}/text", SECTION_TEXT)
    fields = block.get("fields")
    if fields is not None:
        if not isinstance(fields, list) or not 1 <= len(fields) <= SECTION_FIELDS:
            problems.append(f"must provide 1 to {SECTION_FIELDS} fields [json-pointer:{at}/fields]")
        else:
            for i, item in enumerate(fields):
                problems += _text(item, f"{at}/fields/{i}", FIELD_TEXT)
    if block.get("accessory") is not None:
        problems += _element(block["accessory"], f"{at}/accessory")
    return problems


def _elements(elements: Any, at: str, limit: int) -> list[str]:
    if not isinstance(elements, list) or not 1 <= len(elements) <= limit:
        return [f"must provide 1 to {limit} elements [json-pointer:{at}]"]
    problems: list[str] = []
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        problems += _element(element, f"{at}/{i}")
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is not None:
            if action_id in action_ids:
                problems.append(f"duplicate action_id {action_id!r} [json-pointer:{at}/{i}/action_id]")
            action_ids.add(action_id)
    return problems


def _element(element: Any, at: str) -> list[str]:
    if not isinstance(element, dict):
        return [f"must be an object [json-pointer:{at}]"]
    kind = element.get("type")
    if kind == "image":
        return [] if element.get("alt_text") else [f"must provide alt_text [json-pointer:{at}/alt_text]"]
    if kind not in INTERACTIVE:
        return [f"unsupported type [json-pointer:{at}/type]"]
    problems: list[str] = []
    if len(str(element.get("action_id") or "")) > ID_LENGTH:
        problems.append(f"must be less than {ID_LENGTH + 1} characters [json-pointer:{at}/action_id]")
    if element.get("placeholder") is not None:
        problems += _text(element["placeholder"], f"{at}/placeholder", PLACEHOLDER_TEXT, plain=True)
    if kind == "button":
        problems += _text(element.get("text"), f"{at}/text", BUTTON_TEXT, plain=True)
        if len(str(element.get("value") or "")) > BUTTON_VALUE:
            problems.append(f"must be less than {BUTTON_VALUE + 1} characters [json-pointer:{at}/value]")
        if len(str(element.get("url") or "")) > BUTTON_URL:
            problems.append(f"must be less than {BUTTON_URL + 1} characters [json-pointer:{at}/url]")
        if element.get("style") not in (None, "primary", "danger"):
            problems.append(f"must be primary or danger [json-pointer:{at}/style]")
    elif kind in ("checkboxes", "radio_buttons"):
        problems += _options(element.get("options"), f"{at}/options", CHOICE_OPTIONS)
    elif kind in ("static_select", "multi_static_select", "overflow") and "option_groups" not in element:
        problems += _options(element.get("options"), f"{at}/options", SELECT_OPTIONS)
    elif kind == "plain_text_input" and int(element.get("max_length") or 0) > TEXT_INPUT_LENGTH:
        problems.append(f"must be at most {TEXT_INPUT_LENGTH} [json-pointer:{at}/max_length]")
    return problems


def _options(options: Any, at: str, limit: int) -> list[str]:
    if not isinstance(options, list) or not 1 <= len(options) <= limit:
        return [f"must provide 1 to {limit} options [json-pointer:{at}]"]
    problems: list[str] = []
    for i, option in enumerate(options):
        if not isinstance(option, dict):
            problems.append(f"must be an object [json-pointer:{at}/{i}]")
            continue
        problems += _text(option.get("text"), f"{at}/{i}/text", OPTION_TEXT)
        if len(str(option.get("value") or "")) > OPTION_VALUE:
            problems.append(f"must be less than {OPTION_VALUE + 1} characters [json-pointer:{at}/{i}/value]")
    return problems


def _text(obj: Any, at: str, limit: int, *, plain: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"must provide a text object [json-pointer:{at}]"]
    if plain and obj["type"] != "plain_text":
        return [f"must be plain_text [json-pointer:{at}/type]"]
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        return [f"must be more than 0 characters [json-pointer:{at}/text]"]
    if len(text) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{at}/text]"]
    return []
