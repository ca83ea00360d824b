"""The friendly first answer: when an email contact is claimed, the customer hears who will help them.

Sent with aiosmtplib from an outbox row (kind `email.ack`), threaded as a reply to their latest mail.
Its Message-ID is derived from the row, so a retry after a crash sends the same message again and a
reply to it still finds the contact.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

import aiosmtplib

from handoff_bot.config import Settings
from handoff_bot.domain.errors import ConcurrentUpdate, NotFound
from handoff_bot.domain.mail import Direction, MailMessage
from handoff_bot.i18n.catalogue import Catalogue
from handoff_bot.intake.email.mailbox import SmtpServer, parse_smtp_url
from handoff_bot.outbox.errors import PermanentFailure, RetryLater
from handoff_bot.outbox.worker import Handlers
from handoff_bot.services.effects import EMAIL_ACK
from handoff_bot.services.ports import Clock, OutboxMessage, UnitOfWorkFactory
from handoff_bot.services.views import load_details
from handoff_bot.storage.outbox import Completion

log = logging.getLogger(__name__)
logging.getLogger("aiosmtplib").setLevel(logging.WARNING)  # its DEBUG lines hold the message

MAX_REFERENCES = 20
_FEMALE = {"mevrouw", "mevr", "mw", "mrs", "ms", "miss", "madam"}
_MALE = {"meneer", "dhr", "deheer", "mr", "sir"}
_TITLE = re.compile(r"^\s*(de\s+heer|[a-z]+)\.?\s+(.+)$", re.I)
_RE = re.compile(r"^\s*(?:re|aw|antw|sv)\s*:\s*", re.I)


def greeting_key(moment: datetime, tz: tzinfo) -> str:
    hour = moment.astimezone(tz).hour
    if 5 <= hour < 12:
        return "email.ack.morning"
    if 12 <= hour < 18:
        return "email.ack.afternoon"
    return "email.ack.evening"


def salutation(c: Catalogue, name: str | None) -> str:
    """ "mevrouw Jansen" when the name says so ("Mevr. Jansen", "Mrs Jansen"); else the name as written.

    Nothing is guessed from first names: without a title the customer is greeted by their full name.
    """
    if not name:
        return ""
    match = _TITLE.match(name)
    if match:
        title = match.group(1).lower().replace(" ", "")
        rest = match.group(2).strip()
        # "mr." before a Dutch name is a law degree (meester), not a gender.
        if title in _FEMALE:
            return c.t("email.ack.female", name=rest)
        if title in _MALE and not (title == "mr" and c.language == "nl"):
            return c.t("email.ack.male", name=rest)
    return name


@dataclass(frozen=True)
class AckText:
    subject: str
    body: str


def ack_text(
    c: Catalogue,
    *,
    now: datetime,
    tz: tzinfo,
    customer: str | None,
    claimant: str,
    subject: str,
    contact_id: int,
    organisation: str,
) -> AckText:
    """The acknowledgement in the organisation's language, greeted by the local time of day."""
    who = salutation(c, customer)
    greeting = c.t(greeting_key(now, tz))
    opening = c.t("email.ack.opening", greeting=greeting, name=who) if who else f"{greeting},"
    topic = _RE.sub("", subject).strip() or c.t("card.no_subject")
    body = c.t("email.ack.body", subject=topic, claimant=claimant, organisation=organisation)
    tag = f"[#{contact_id}]"
    reply = c.t("email.ack.subject", subject=topic if tag in topic else f"{topic} {tag}")
    return AckText(reply, f"{opening}\n\n{body}\n")


class AckMailer:
    """The outbox handler for `email.ack` rows; does nothing (the row completes) when it is off."""

    def __init__(self, settings: Settings, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self.uow, self.clock = uow, clock
        self.enabled = settings.ack_email
        self.sender = settings.smtp_from or ""
        self.server: SmtpServer | None = (
            parse_smtp_url(settings.smtp_url.get_secret_value()) if settings.smtp_url else None
        )
        self.catalogue = Catalogue(settings.language)
        self.tz = settings.tz

    async def __call__(self, message: OutboxMessage) -> Completion | None:
        if not self.enabled or self.server is None:
            return None
        contact_id, event_id = int(message.payload["contact_id"]), int(message.payload["event_id"])
        async with self.uow() as tx:
            try:
                details = await load_details(tx, contact_id)
            except NotFound:
                return None  # deleted meanwhile
            original = await tx.mail.latest_in(contact_id)
        event = next((e for e in details.timeline if e.id == event_id), None)
        claimant = details.person(event.actor_id if event else details.contact.claimed_by)
        if original is None or not original.address or details.contact.redacted_at is not None:
            return None  # nobody to answer (erased, or not from a mail we stored)
        display, from_address = parseaddr(self.sender)
        text = ack_text(
            self.catalogue,
            now=self.clock.now(),
            tz=self.tz,
            customer=details.customer.name,
            claimant=claimant.display_name if claimant else self.catalogue.t("person.unknown"),
            subject=original.subject or details.contact.subject,
            contact_id=contact_id,
            organisation=display or from_address,
        )
        domain = from_address.rpartition("@")[2][:200] or "handoff.invalid"
        message_id = f"handoff-ack-{contact_id}-{event_id}@{domain}"
        mail = self._compose(text, original, message_id, details.customer.name)
        await self._remember(original, message_id, text.subject)
        await self._send(mail, message_id)
        log.info("email: acknowledgement for contact %s sent as %s", contact_id, message.id)
        return None

    def _compose(
        self, text: AckText, original: MailMessage, message_id: str, name: str | None
    ) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = formataddr((name or "", original.address or ""))
        mail["Subject"] = text.subject
        mail["Date"] = format_datetime(self.clock.now().astimezone(self.tz))
        mail["Message-ID"] = f"<{message_id}>"
        mail["In-Reply-To"] = f"<{original.message_id}>"
        refs = [*original.references, original.message_id][-MAX_REFERENCES:]
        mail["References"] = " ".join(f"<{r}>" for r in refs)
        # RFC 3834: an automatic answer. Autoresponders do not answer it, so no mail loops.
        mail["Auto-Submitted"] = "auto-replied"
        mail["Content-Language"] = self.catalogue.language
        mail.set_content(text.body)
        return mail

    async def _remember(self, original: MailMessage, message_id: str, subject: str) -> None:
        """Store our Message-ID first: the customer's reply to the acknowledgement finds the contact."""
        async with self.uow() as tx:
            if await tx.mail.get(message_id) is not None:
                return  # a retry
            await tx.mail.add(
                MailMessage(
                    message_id=message_id,
                    contact_id=original.contact_id,
                    direction=Direction.OUT,
                    at=self.clock.now(),
                    address=original.address,
                    subject=subject[:300],
                    references=(*original.references, original.message_id),
                )
            )
            try:
                await tx.commit()
            except ConcurrentUpdate:
                return  # another worker stored it a moment ago

    async def _send(self, mail: EmailMessage, message_id: str) -> None:
        server = self.server
        assert server is not None
        try:
            await aiosmtplib.send(
                mail,
                hostname=server.host,
                port=server.port,
                username=server.user,
                password=server.password.get_secret_value() if server.password else None,
                use_tls=server.implicit_tls,
                start_tls=True if (server.require_tls and not server.implicit_tls) else None,
                timeout=30,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise PermanentFailure("the customer's address was refused by the mail server") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise PermanentFailure(f"{server.display} refused the login: check HANDOFF_SMTP_URL") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentFailure(f"{server.display} refused the mail ({exc.code})") from exc
            raise RetryLater(f"{server.display} answered {exc.code}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise RetryLater(f"{server.display} unreachable ({type(exc).__name__})") from exc


def register_email_ack(
    handlers: Handlers, settings: Settings, *, uow: UnitOfWorkFactory, clock: Clock
) -> None:
    """Always registered, so `email.ack` rows complete (as no-ops) when the acknowledgement is off."""
    handlers.add_kind(EMAIL_ACK, AckMailer(settings, uow=uow, clock=clock))


__all__ = ["AckMailer", "AckText", "ack_text", "register_email_ack", "salutation"]
