"""The Slack Web API as the outbox sees it: every failure becomes retry-later or permanent."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handoff_bot.outbox.errors import PermanentFailure, RetryLater

log = logging.getLogger(__name__)

# What an operator must do when Slack refuses for good; retrying cannot help with these.
FIXES = {
    "channel_not_found": "check SLACK_CONTACTS_CHANNEL: the channel id does not exist for this bot",
    "not_in_channel": "invite the bot to the channel (/invite @Handoff)",
    "is_archived": "the channel is archived; unarchive it or set SLACK_CONTACTS_CHANNEL to another channel",
    "invalid_auth": "SLACK_BOT_TOKEN is not valid; reinstall the app and copy the new token",
    "not_authed": "SLACK_BOT_TOKEN is missing",
    "account_inactive": "the bot's token belongs to a deactivated app or user; reinstall the app",
    "token_revoked": "the bot's token was revoked; reinstall the app",
    "missing_scope": "the app lacks a scope; update it from manifests/slack/manifest.yaml and reinstall",
    "no_permission": "the bot lacks permission in this channel",
    "restricted_action": "a workspace setting prevents the bot from posting here",
    "invalid_blocks": "the message was malformed (a bug: please report it with this outbox row)",
    "msg_blocks_too_long": "the message was too long (a bug: please report it with this outbox row)",
    "message_not_found": "the message to update no longer exists in Slack",
    "cant_update_message": "the bot may only update its own messages",
    "user_not_found": "the Slack user no longer exists",
    "user_disabled": "the Slack user is deactivated",
    "cannot_dm_bot": "a bot cannot be sent a DM",
}
MAX_PAUSE = 30.0
# Crash recovery's search of a channel: pages of this size, at most this many (10,000 messages).
HISTORY_PAGE, HISTORY_PAGES = 200, 50
CLOCK_SKEW = 300.0  # seconds our clock may run ahead of Slack's message timestamps


class ChannelPacer:
    """A token bucket per channel (GCRA): posts start at least 1/`per_second` apart, `burst` at once.

    Posts to one channel take turns under a lock and each turn is timed when the post really
    leaves, so a stalled event loop delays posts instead of releasing a backlog at once (which
    Slack would answer with 429s).
    """

    def __init__(
        self, per_second: float, burst: int = 1, *, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = 1.0 / per_second
        self.tolerance = (max(1, burst) - 1) * self.interval
        self.now = now
        self._due: dict[str, float] = {}  # channel → theoretical time of its next post
        self._locks: dict[str, asyncio.Lock] = {}
        self._queued: dict[str, int] = {}

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said 429: nothing more to `channel` for `seconds`, queued posts included (without
        this they would all leave together when the pause ends, and be refused again)."""
        self._due[channel] = max(self._due.get(channel, 0.0), self.now() + seconds)

    async def turn(self, channel: str) -> None:
        """Wait for this channel's next slot; raise RetryLater when the queue would take longer
        than MAX_PAUSE, so the outbox row comes back later instead of outliving its lease."""
        queued = self._queued.get(channel, 0)
        if queued * self.interval > MAX_PAUSE:
            raise RetryLater(
                f"slack channel {channel} is busy", retry_after=queued * self.interval, counts=False
            )
        self._queued[channel] = queued + 1
        try:
            async with self._locks.setdefault(channel, asyncio.Lock()):
                while True:
                    now = self.now()
                    due = max(self._due.get(channel, now), now)
                    wait = due - self.tolerance - now
                    if wait <= 0:
                        break
                    await asyncio.sleep(wait)  # then look again: a 429 may have pushed the slot back
                # Half a slot of lateness (timer slack) is made up; more is lost, never bunched.
                self._due[channel] = max(due, self.now() - self.interval / 2) + self.interval
        finally:
            self._queued[channel] -= 1


class SlackClient:
    """A thin wrapper: one AsyncWebClient, per-channel pacing and pauses after 429, errors in outbox terms."""

    def __init__(self, web: AsyncWebClient, pacer: ChannelPacer | None = None) -> None:
        self.web = web
        self.pacer = pacer
        self._paused_until: dict[str, float] = {}

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        # Slack limits posting per channel and everything else per method.
        lane = f"{method}:{params['channel']}" if method == "chat.postMessage" else method
        if self.pacer is not None and method == "chat.postMessage":
            await self.pacer.turn(str(params["channel"]))
        async with self._paced(lane):
            try:
                # slack_sdk's typed methods pick the encoding Slack expects for each method.
                response = await getattr(self.web, method.replace(".", "_"))(**params)
            except SlackApiError as exc:
                raise self._translate(method, lane, exc, params.get("channel")) from exc
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise RetryLater(f"slack {method}: {type(exc).__name__}") from exc
        data = response.data
        assert isinstance(data, dict)
        return data

    async def history_has(
        self,
        channel: str,
        event_type: str,
        match: dict[str, Any],
        *,
        thread_ts: str | None = None,
        since: datetime | None = None,
    ) -> dict[str, Any] | None:
        """Find a message we posted earlier by its metadata (after a crash lost our record of it).

        Pages back to `since` (when the outbox row was written; the post cannot be older), not just
        the newest page: after a crash a busy channel easily gets 100 more cards before the retry,
        and a search of the newest 100 then missed the card and posted it twice.
        """
        method, params = "conversations.history", {"channel": channel}
        if thread_ts:
            method, params = "conversations.replies", {"channel": channel, "ts": thread_ts}
        if since is not None:
            params["oldest"] = f"{since.timestamp() - CLOCK_SKEW:.6f}"
        cursor = None
        for _ in range(HISTORY_PAGES):
            page: dict[str, str] = {"cursor": cursor} if cursor else {}
            data = await self.call(method, limit=HISTORY_PAGE, include_all_metadata=True, **params, **page)
            for message in data.get("messages", []):
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == event_type and all(
                    payload.get(k) == v for k, v in match.items()
                ):
                    return dict(message)
            cursor = (data.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        log.warning(
            "slack: %s of %s has more than %d pages since the row; not searched further",
            method,
            channel,
            HISTORY_PAGES,
        )
        return None

    @contextlib.asynccontextmanager
    async def _paced(self, lane: str) -> AsyncIterator[None]:
        """After a 429, every call in that lane waits out Slack's Retry-After instead of piling on."""
        wait = self._paused_until.get(lane, 0.0) - time.monotonic()
        if wait > MAX_PAUSE:
            raise RetryLater(f"slack {lane} is rate limited", retry_after=wait, counts=False)
        if wait > 0:
            await asyncio.sleep(wait)
        yield

    def _translate(self, method: str, lane: str, exc: SlackApiError, channel: Any = None) -> Exception:
        status = getattr(exc.response, "status_code", 200)
        error = str((exc.response.data or {}).get("error", "")) if isinstance(exc.response.data, dict) else ""
        if status == 429 or error == "ratelimited":
            retry_after = _retry_after(exc.response.headers)
            self._paused_until[lane] = time.monotonic() + retry_after
            if self.pacer is not None and method == "chat.postMessage" and channel:
                self.pacer.hold(str(channel), retry_after)
            return RetryLater(f"slack {method}: rate limited", retry_after=retry_after, counts=False)
        if status >= 500 or error in {
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
        }:
            return RetryLater(f"slack {method}: HTTP {status} {error}".strip())
        fix = FIXES.get(error)
        if fix is not None:
            return PermanentFailure(f"slack {method} failed with {error}: {fix}")
        return PermanentFailure(f"slack {method} failed with {error or f'HTTP {status}'}")


def _retry_after(headers: Any) -> float:
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name) if headers else None
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            with contextlib.suppress(ValueError):
                return max(0.0, float(value))
    return 1.0
