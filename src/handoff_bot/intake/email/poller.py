"""The mailbox poller: new mail becomes contacts; each message is marked processed only after commit.

Exactly once: the contact (or follow-up) and the message id are committed together; the IMAP flag
(or the move to the done folder) comes after. A crash in between leaves the mail unflagged, and the
next sweep finds its message id stored and only flags it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

from sqlalchemy.exc import InterfaceError, OperationalError

from handoff_bot.config import Settings
from handoff_bot.domain.errors import InvalidIdentity
from handoff_bot.intake.email.imap import IMAP_ERRORS, ImapSession, MailboxError, open_session
from handoff_bot.intake.email.mailbox import Mailbox
from handoff_bot.intake.email.parse import ParsedMail, parse_mail
from handoff_bot.metrics import Metrics
from handoff_bot.services.mail import EmailReceived, ReceiveEmail, receive_email
from handoff_bot.services.ports import Clock, UnitOfWorkFactory
from handoff_bot.services.reminders import ReminderPolicy

log = logging.getLogger(__name__)

DONE_KEYWORD = "$HandoffDone"
MAX_BYTES = 48 * 1024 * 1024  # read up to here: a 20 MB attachment is 27 MB as base64
BATCH = 50
MAX_FAILURES = 3  # a message whose handling fails this often is left alone until the next restart
# Infrastructure trouble: stop the sweep and reconnect later, the message stays unflagged.
_TRANSIENT: tuple[type[BaseException], ...] = (*IMAP_ERRORS, MailboxError, OperationalError, InterfaceError)


@dataclass(frozen=True)
class PollerOptions:
    poll_seconds: float = 30
    done_folder: str | None = None
    reopen_days: int = 14
    idle_seconds: float = 300  # IDLE is renewed (and the mailbox swept) at least this often
    max_bytes: int = MAX_BYTES
    timeout: float = 60


class MailPoller:
    """One mailbox: sweep what is new, then wait (IDLE, else sleep) and sweep again."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        uow: UnitOfWorkFactory,
        clock: Clock,
        metrics: Metrics | None = None,
        options: PollerOptions | None = None,
        reminders: ReminderPolicy | None = None,
    ) -> None:
        self.mailbox, self.uow, self.clock, self.metrics = mailbox, uow, clock, metrics
        self.options = options or PollerOptions()
        self.reminders = reminders
        self.failures: Counter[tuple[int | None, int]] = Counter()
        self.rng = random.Random()  # noqa: S311 - reconnect jitter

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: connect, sweep, wait; reconnect with backoff when the server or database fails."""
        delay = 1.0
        log.info("email: polling %s", self.mailbox.display)
        while not stop.is_set():
            try:
                async with open_session(self.mailbox, command_timeout=self.options.timeout) as session:
                    await self._prepare(session)
                    delay = 1.0
                    while not stop.is_set():
                        await self.sweep(session)
                        await self._wait(session, stop)
            except _TRANSIENT as exc:
                log.warning(
                    "email: %s unavailable (%s); retrying in %.0fs",
                    self.mailbox.display,
                    type(exc).__name__,
                    delay,
                )
            except Exception:
                # A bug must not end email intake for good: log it and start over after the backoff.
                log.exception("email: polling %s failed; retrying in %.0fs", self.mailbox.display, delay)
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay * self.rng.uniform(0.5, 1.0))
            delay = min(delay * 2, 300.0)
        log.info("email: stopped polling %s", self.mailbox.display)

    async def sweep_once(self) -> int:
        """Connect, handle everything new, disconnect (tests and one-shot runs)."""
        async with open_session(self.mailbox, command_timeout=self.options.timeout) as session:
            await self._prepare(session)
            return await self.sweep(session)

    async def _prepare(self, session: ImapSession) -> None:
        if self.options.done_folder:
            await session.ensure_folder(self.options.done_folder)
        await session.select(self.mailbox.folder)

    async def sweep(self, session: ImapSession) -> int:
        """Handle every message not yet marked processed; returns how many were handled."""
        handled = 0
        while True:
            uids = [
                uid
                for uid in await session.search(*self._criteria(session))
                if self.failures[(session.uidvalidity, uid)] < MAX_FAILURES
            ]
            if not uids:
                return handled
            for uid in uids[:BATCH]:
                try:
                    await self._handle(session, uid)
                except _TRANSIENT:
                    raise
                except Exception:
                    # A bug or a mail nobody foresaw: log it, leave the mail where it is, go on.
                    self.failures[(session.uidvalidity, uid)] += 1
                    log.exception(
                        "email: message uid %s in %s could not be handled", uid, self.mailbox.display
                    )
                handled += 1

    def _criteria(self, session: ImapSession) -> Sequence[str]:
        if self.options.done_folder:
            return ("UNDELETED",)  # processed mail has moved out of this folder
        if session.supports_keywords:
            return ("UNDELETED", "UNKEYWORD", DONE_KEYWORD)
        return ("UNDELETED", "UNSEEN")

    def _flag(self, session: ImapSession) -> str:
        # Servers without keywords get \Seen; with keywords, people keep their own read/unread state.
        return DONE_KEYWORD if session.supports_keywords else "\\Seen"

    async def _handle(self, session: ImapSession, uid: int) -> None:
        raw = await session.fetch(uid, self.options.max_bytes)
        if raw is None:
            return  # expunged by someone else meanwhile
        mail = await asyncio.to_thread(parse_mail, raw)
        if mail.skip_reason is not None:
            self._skipped(uid, mail.skip_reason)
        else:
            try:
                received = await receive_email(
                    _command(mail),
                    uow=self.uow,
                    clock=self.clock,
                    reopen_days=self.options.reopen_days,
                    reminders=self.reminders,
                )
            except InvalidIdentity:
                self._skipped(uid, "no_sender")
            else:
                self._received(uid, received)
        await self._mark_done(session, uid)

    async def _mark_done(self, session: ImapSession, uid: int) -> None:
        """Only after the commit: a crash before this line leaves the mail for the next sweep."""
        if self.options.done_folder:
            await session.move(uid, self.options.done_folder)
        else:
            await session.add_flag(uid, self._flag(session))

    def _skipped(self, uid: int, reason: str) -> None:
        if self.metrics:
            self.metrics.email_skipped.labels(reason).inc()
        log.info("email: skipped message uid %s in %s: %s", uid, self.mailbox.display, reason)

    def _received(self, uid: int, received: EmailReceived) -> None:
        if self.metrics:
            self.metrics.email_received.labels(received.outcome.value).inc()
        log.info(
            "email: message uid %s in %s → contact %s (%s)",
            uid,
            self.mailbox.display,
            received.contact_id,
            received.outcome.value,
        )

    async def _wait(self, session: ImapSession, stop: asyncio.Event) -> None:
        if session.supports_idle:
            await session.idle(self.options.idle_seconds, stop)
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=self.options.poll_seconds)


def _command(mail: ParsedMail) -> ReceiveEmail:
    return ReceiveEmail(
        message_id=mail.message_id,
        subject=mail.subject,
        text=mail.text,
        from_address=mail.from_address,
        from_name=mail.from_name,
        in_reply_to=mail.in_reply_to,
        references=mail.references,
        original=mail.original,
        attachments=mail.attachments,
        contact_tag=mail.contact_tag,
    )


def email_pollers(
    settings: Settings, *, uow: UnitOfWorkFactory, clock: Clock, metrics: Metrics | None
) -> list[MailPoller]:
    """One poller per configured mailbox (none when HANDOFF_IMAP_URL is not set)."""
    options = PollerOptions(
        poll_seconds=settings.imap_poll_seconds,
        done_folder=settings.imap_done_folder,
        reopen_days=settings.reopen_days,
        # IDLE brings mail in at once; a fresh sweep now and then catches a notice that slipped
        # between a sweep and the next IDLE (servers end IDLE after 30 minutes anyway).
        idle_seconds=min(max(settings.imap_poll_seconds, 60.0), 1500.0),
    )
    reminders = settings.reminder_policy()
    return [
        MailPoller(box, uow=uow, clock=clock, metrics=metrics, options=options, reminders=reminders)
        for box in settings.mailboxes()
    ]


@asynccontextmanager
async def polling(pollers: Sequence[MailPoller]) -> AsyncIterator[None]:
    """Run the pollers as background tasks for the duration of the block."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(p.run(stop), name=f"email:{p.mailbox.display}") for p in pollers]
    try:
        yield
    finally:
        stop.set()
        for task in tasks:
            try:
                await asyncio.wait_for(task, timeout=15)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
