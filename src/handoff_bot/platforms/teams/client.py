"""The Bot Connector as the outbox sees it: proactive turns on stored references, errors in outbox terms.

Every call runs inside `continue_conversation` on a stored reference (or `create_conversation` for a
new thread or 1:1 chat), so it works after a restart. Throttling (429, 412, 502, 504) becomes
RetryLater with Teams' Retry-After (defect 4: the SDK does not retry), and a per-thread pacer keeps
the bot within Teams' per-thread limits before Teams has to refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from botbuilder.core import BotAdapter, TurnContext
from botbuilder.core.teams import TeamsInfo
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    Attachment,
    ChannelAccount,
    ConversationParameters,
    ConversationReference,
    Entity,
)
from msrest.exceptions import ClientRequestError, HttpOperationError

from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.platforms.teams import refs
from handoff_bot.platforms.teams.auth import AuthError
from handoff_bot.storage.teams_refs import PERSONAL, TeamsConversation, TeamsConversations

log = logging.getLogger(__name__)
T = TypeVar("T")

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
THROTTLED = {429, 412}  # waiting our turn: does not count as a failed attempt
PASSING = {500, 502, 503, 504}
# Teams' documented limits per bot per conversation (thread): (window seconds, messages).
THREAD_LIMITS = ((1.0, 7), (2.0, 8), (30.0, 60), (3600.0, 1800))
TENANT_LIMITS = ((1.0, 30),)  # per bot per tenant Teams allows about 30–50 requests a second
TENANT_LANE = "tenant"
MAX_PAUSE = 5.0  # longer than this, give the row back to the outbox instead of holding a worker
FIXES = {
    401: "the Bot Connector refused the bot's token: check MICROSOFT_APP_ID, MICROSOFT_APP_PASSWORD and "
    "MICROSOFT_APP_TENANT_ID",
    403: "the bot may not post here: is the app installed in this team (or for this user)?",
    404: "the conversation or message no longer exists in Teams",
}


class NoAnswer(RetryLater):
    """The request went out and no answer came back (timeout, connection lost): Teams may have posted."""


@dataclass(frozen=True)
class Posted:
    conversation_id: str  # for a new channel thread: 19:…@thread.tacv2;messageid=<root>
    activity_id: str


class _RawEntity(Entity):  # type: ignore[misc]
    """An entity sent as given: the schema's Entity keeps only `type`, dropping a mention's text and id."""

    _attribute_map = {  # noqa: RUF012 - msrest reads this class attribute
        "type": {"key": "type", "type": "str"},
        "text": {"key": "text", "type": "str"},
        "mentioned": {"key": "mentioned", "type": "object"},
    }

    def __init__(self, *, type: str | None = None, text: str | None = None, mentioned: Any = None) -> None:
        super().__init__(type=type)
        self.text, self.mentioned = text, mentioned


def activity_of(payload: dict[str, Any]) -> Activity:
    """A renderer's activity dict (platforms/teams/cards.py, text.py) as a botbuilder Activity."""
    data = dict(payload)
    entities = data.pop("entities", None) or []
    activity = Activity().deserialize(data)
    if entities:
        activity.entities = [
            _RawEntity(type=e.get("type"), text=e.get("text"), mentioned=e.get("mentioned")) for e in entities
        ]
    return activity


def message(
    text: str | None = None,
    *,
    card: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    summary: str | None = None,
) -> Activity:
    """A message activity: text (Teams markdown, already escaped), optionally an Adaptive Card."""
    return Activity(
        type=ActivityTypes.message,
        text=text,
        text_format="markdown" if text else None,
        summary=summary,
        attachments=[Attachment(content_type=CARD_TYPE, content=card)] if card is not None else None,
        entities=[_RawEntity(**e) for e in entities] if entities else None,
    )


class Pacer:
    """Sliding windows per conversation; waits briefly, or says how long the caller should wait."""

    def __init__(
        self,
        limits: tuple[tuple[float, int], ...] = THREAD_LIMITS,
        clock: Callable[[], float] = time.monotonic,
        *,
        tenant_limits: tuple[tuple[float, int], ...] | None = TENANT_LIMITS,
    ):
        self.limits, self.clock = limits, clock
        # Every conversation also counts towards the bot's limit in the tenant.
        self.tenant = Pacer(tenant_limits, clock, tenant_limits=None) if tenant_limits else None
        self._sent: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    def wait_for(self, lane: str) -> float:
        now = self.clock()
        wait = max(0.0, self._paused_until.get(lane, 0.0) - now)
        sent = self._sent.get(lane)
        if sent:
            horizon = max(window for window, _ in self.limits)
            while sent and now - sent[0] > horizon:
                sent.popleft()
            for window, most in self.limits:
                recent = [t for t in sent if now - t < window]
                if len(recent) >= most:
                    wait = max(wait, recent[-most] + window - now)
        return wait

    def record(self, lane: str) -> None:
        self._sent.setdefault(lane, deque()).append(self.clock())

    def pause(self, lane: str, seconds: float) -> None:
        self._paused_until[lane] = max(self._paused_until.get(lane, 0.0), self.clock() + seconds)

    @contextlib.asynccontextmanager
    async def turn(self, lane: str) -> AsyncIterator[None]:
        slept = 0.0
        while True:
            wait = self.wait_for(lane)
            if self.tenant is not None:
                wait = max(wait, self.tenant.wait_for(TENANT_LANE))
            if wait <= 0:
                break
            if slept + wait > MAX_PAUSE:
                raise RetryLater(f"teams: pacing conversation {lane[:40]}", retry_after=wait, counts=False)
            # Look again after sleeping: rows delivered concurrently wait for the same slot, and only
            # the first to wake may take it (else they all fire at once when a pause ends).
            await asyncio.sleep(wait)
            slept += wait
        self.record(lane)
        if self.tenant is not None:
            self.tenant.record(TENANT_LANE)
        yield


class TeamsClient:
    """Posts, replies, updates and 1:1 chats through the adapter, on stored references."""

    def __init__(
        self,
        adapter: BotAdapter,
        app_id: str,
        conversations: TeamsConversations,
        *,
        pacer: Pacer | None = None,
        tenant_id: str | None = None,
    ) -> None:
        self.adapter, self.app_id, self.conversations = adapter, app_id, conversations
        self.pacer = pacer or Pacer()
        self.tenant_id = tenant_id  # the bot's own tenant (single-tenant bots): where 1:1 chats live

    async def post_thread(self, channel: TeamsConversation, channel_id: str, activity: Activity) -> Posted:
        """A new thread in a channel: returns the thread's conversation id and its root message id."""

        async def work(turn: TurnContext) -> Posted:
            if self.app_id:
                reference, root = await TeamsInfo.send_message_to_teams_channel(
                    turn, activity, channel_id, bot_app_id=self.app_id
                )
            else:
                # Anonymous mode: TeamsInfo would take its legacy BotFrameworkAdapter path without an app id.
                reference, root = await self._anonymous_thread(turn, activity, channel_id)
            conversation_id = reference.conversation.id if reference and reference.conversation else None
            if not conversation_id or not root:
                raise RetryLater("teams: the connector returned no thread id")
            return Posted(str(conversation_id), str(root))

        return await self._call(f"channel:{channel_id}", refs.reference_of(channel), work)

    async def _anonymous_thread(
        self, turn: TurnContext, activity: Activity, channel_id: str
    ) -> tuple[ConversationReference | None, str]:
        created: dict[str, Any] = {}

        async def callback(new_turn: TurnContext) -> None:
            created["root"] = new_turn.activity.id
            created["reference"] = TurnContext.get_conversation_reference(new_turn.activity)

        parameters = ConversationParameters(
            is_group=True, channel_data={"channel": {"id": channel_id}}, activity=activity
        )
        await self.adapter.create_conversation(
            "", callback, parameters, "msteams", turn.activity.service_url, None
        )
        return created.get("reference"), str(created.get("root") or "")

    async def reply(self, channel: TeamsConversation, thread_id: str, activity: Activity) -> Posted:
        """A reply in a channel thread (`thread_id` = 19:…;messageid=<root>)."""

        async def work(turn: TurnContext) -> Posted:
            response = await turn.send_activity(activity)
            return Posted(thread_id, _id(response))

        return await self._call(thread_id, refs.reference_of(channel, conversation_id=thread_id), work)

    async def update(
        self, channel: TeamsConversation, conversation_id: str, activity_id: str, activity: Activity
    ) -> None:
        """Replace a message in place, inside a turn on its own conversation (the SDK uses the turn's)."""
        activity.id = activity_id

        async def work(turn: TurnContext) -> None:
            await turn.update_activity(activity)

        await self._call(conversation_id, refs.reference_of(channel, conversation_id=conversation_id), work)

    async def send(self, conversation: TeamsConversation, activity: Activity) -> Posted:
        """A message in a stored conversation (a 1:1 chat)."""

        async def work(turn: TurnContext) -> Posted:
            response = await turn.send_activity(activity)
            return Posted(conversation.conversation_id, _id(response))

        return await self._call(conversation.conversation_id, refs.reference_of(conversation), work)

    async def personal_chat(
        self,
        *,
        aad_object_id: str | None,
        user_id: str | None = None,
        near: TeamsConversation | None = None,
    ) -> TeamsConversation:
        """The bot's 1:1 chat with a user: stored, or created (needs the app installed for them).

        A new chat is created with the tenant and service url of `near` (the channel of the contact),
        else of a channel in the bot's own tenant, never of just any team the bot last saw.
        """
        known = await self.conversations.personal(user_id=user_id, aad_object_id=aad_object_id)
        if known is not None:
            return known
        member = user_id or aad_object_id
        if not member:
            raise PermanentFailure("teams: the colleague has no Teams identity")
        anchor = near or await self.conversations.any_channel(self.tenant_id)
        if anchor is None:
            raise RetryLater(
                "teams: the bot has not seen any team yet; add the app to a team", retry_after=300
            )
        tenant = anchor.tenant_id
        bot = refs.bot_account(anchor) or ChannelAccount(id=f"28:{self.app_id}")
        parameters = ConversationParameters(
            is_group=False,
            bot=bot,
            members=[ChannelAccount(id=member)],
            tenant_id=tenant,
            channel_data={"tenant": {"id": tenant}},  # defect 5: the schema drops tenantId elsewhere
        )
        created: dict[str, ConversationReference] = {}

        async def callback(turn: TurnContext) -> None:
            created["reference"] = TurnContext.get_conversation_reference(turn.activity)

        lane = f"create:{member}"
        async with self.pacer.turn(lane):
            await self._guard(
                lane,
                lambda: self.adapter.create_conversation(
                    self.app_id, callback, parameters, "msteams", anchor.service_url, None
                ),
            )
        reference = created.get("reference")
        if reference is None or reference.conversation is None or not reference.conversation.id:
            raise RetryLater("teams: the connector created no conversation")
        reference.conversation.tenant_id = tenant
        conversation = TeamsConversation(
            str(reference.conversation.id),
            PERSONAL,
            anchor.service_url,
            tenant,
            user_id=user_id if user_id else (member if member.startswith("29:") else None),
            aad_object_id=aad_object_id,
            reference=reference.serialize(),
        )
        await self.conversations.save(conversation)
        return conversation

    async def _call(
        self, lane: str, reference: ConversationReference, work: Callable[[TurnContext], Awaitable[T]]
    ) -> T:
        outcome: dict[str, Any] = {}

        async def callback(turn: TurnContext) -> None:
            # The adapter hands errors inside a turn to on_turn_error; keep them for the outbox instead.
            try:
                outcome["value"] = await work(turn)
            except Exception as exc:
                outcome["error"] = exc

        async with self.pacer.turn(lane):
            await self._guard(
                lane, lambda: self.adapter.continue_conversation(reference, callback, bot_app_id=self.app_id)
            )
        if "error" in outcome:
            raise self._translate(lane, outcome["error"]) from outcome["error"]
        return outcome.get("value")  # type: ignore[return-value]

    async def _guard(self, lane: str, call: Callable[[], Awaitable[Any]]) -> None:
        try:
            await call()
        except (RetryLater, PermanentFailure):
            raise
        except Exception as exc:
            raise self._translate(lane, exc) from exc

    def _translate(self, lane: str, exc: BaseException) -> Exception:
        if isinstance(exc, RetryLater | PermanentFailure):
            return exc
        if isinstance(exc, AuthError):
            return RetryLater(f"teams: {exc}")
        if isinstance(exc, HttpOperationError) and exc.response is not None:
            status = int(getattr(exc.response, "status_code", 0) or 0)
            retry_after = _retry_after(getattr(exc.response, "headers", None))
            if status in THROTTLED:
                wait = retry_after if retry_after is not None else 1.0
                self.pacer.pause(lane, wait)
                return RetryLater(f"teams: throttled (HTTP {status})", retry_after=wait, counts=False)
            if status in PASSING:
                return RetryLater(f"teams: HTTP {status}", retry_after=retry_after)
            fix = FIXES.get(status)
            return PermanentFailure(f"teams: HTTP {status}" + (f": {fix}" if fix else ""))
        if isinstance(exc, ClientRequestError | requests.RequestException | TimeoutError | ConnectionError):
            return NoAnswer(f"teams: {type(exc).__name__}")
        return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


def _id(response: Any) -> str:
    activity_id = getattr(response, "id", None)
    if not activity_id:
        raise RetryLater("teams: the connector returned no activity id")
    return str(activity_id)


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        with contextlib.suppress(TypeError, ValueError):
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    return None
