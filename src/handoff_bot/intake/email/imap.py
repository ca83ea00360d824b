"""A thin, typed IMAP session over aioimaplib: just the commands the poller needs."""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import aioimaplib

from handoff_bot.intake.email.mailbox import Mailbox

# aioimaplib logs every line it sends and receives at DEBUG: mail contents. Never let it.
logging.getLogger("aioimaplib").setLevel(logging.WARNING)

_UID = re.compile(rb"\bUID (\d+)")
_PERMANENT = re.compile(rb"\[PERMANENTFLAGS \(([^)]*)\)\]")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_EXISTS = re.compile(rb"^\d+ (?:EXISTS|RECENT)\b")

IMAP_ERRORS: tuple[type[BaseException], ...] = (
    aioimaplib.AioImapException,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
    ssl.SSLError,
)


class MailboxError(Exception):
    """The server refused something; the message names the mailbox by its display URL only."""


class ImapSession:
    def __init__(self, client: aioimaplib.IMAP4, mailbox: Mailbox) -> None:
        self.client, self.mailbox = client, mailbox
        self.permanent_flags: set[str] = set()
        self.uidvalidity: int | None = None

    def _check(self, response: aioimaplib.Response, what: str) -> aioimaplib.Response:
        if response.result != "OK":
            raise MailboxError(f"{self.mailbox.display}: {what} failed ({response.result})")
        return response

    async def select(self, folder: str) -> None:
        response = self._check(await self.client.select(_quote(folder)), f"SELECT {folder}")
        for line in response.lines:
            if isinstance(line, bytes | bytearray):
                if match := _PERMANENT.search(line):
                    self.permanent_flags = set(match.group(1).decode("ascii", "replace").split())
                if match := _UIDVALIDITY.search(line):
                    self.uidvalidity = int(match.group(1))

    async def ensure_folder(self, folder: str) -> None:
        """Create a folder unless it exists (CREATE of an existing one just fails: fine)."""
        await self.client.create(_quote(folder))

    @property
    def supports_keywords(self) -> bool:
        return "\\*" in self.permanent_flags

    @property
    def supports_idle(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    async def search(self, *criteria: str) -> list[int]:
        response = self._check(await self.client.uid_search(*criteria, charset=None), "UID SEARCH")
        uids: list[int] = []
        for line in response.lines[:-1]:
            text = bytes(line).decode("ascii", "replace").strip()
            uids.extend(int(token) for token in text.removeprefix("SEARCH").split() if token.isdigit())
        return sorted(set(uids))

    async def fetch(self, uid: int, max_bytes: int) -> bytes | None:
        """The message (its first `max_bytes`), or None when it is gone (expunged meanwhile)."""
        response = self._check(
            await self.client.uid("fetch", str(uid), f"(UID BODY.PEEK[]<0.{max_bytes}>)"), "UID FETCH"
        )
        lines = response.lines
        for index, line in enumerate(lines):
            if isinstance(line, bytearray) and index > 0 and _UID.search(bytes(lines[index - 1]) + b" "):
                return bytes(line)
        literals = [bytes(line) for line in lines if isinstance(line, bytearray)]
        return literals[0] if literals else None

    async def add_flag(self, uid: int, flag: str) -> None:
        self._check(await self.client.uid("store", str(uid), "+FLAGS.SILENT", f"({flag})"), "UID STORE")

    async def move(self, uid: int, folder: str) -> None:
        if self.client.has_capability("MOVE"):
            self._check(await self.client.uid("move", str(uid), _quote(folder)), "UID MOVE")
            return
        self._check(await self.client.uid("copy", str(uid), _quote(folder)), "UID COPY")
        await self.add_flag(uid, "\\Deleted")
        if self.client.has_capability("UIDPLUS"):
            self._check(await self.client.uid("expunge", str(uid)), "UID EXPUNGE")
        else:
            self._check(await self.client.expunge(), "EXPUNGE")

    async def idle(self, seconds: float, stop: asyncio.Event) -> bool:
        """Wait in IDLE until the server reports new mail, `seconds` pass or `stop` is set.

        True when the server pushed something (new mail, most likely).
        """
        idle = await self.client.idle_start(timeout=seconds)
        pushed = False
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not pushed and not stop.is_set():
                push = asyncio.ensure_future(self.client.wait_server_push(timeout=seconds + 5))
                done, _ = await asyncio.wait({push, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if push not in done:
                    push.cancel()
                    break
                lines = push.result()
                if lines == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                pushed = any(_EXISTS.match(bytes(line)) for line in lines)
        except TimeoutError:
            pass
        finally:
            stopper.cancel()
            self.client.idle_done()
            with suppress(*IMAP_ERRORS):
                await asyncio.wait_for(idle, timeout=30)
        return pushed

    async def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Tests drop mail in with it; IMAP APPEND is also how a real client saves a message."""
        self._check(await self.client.append(raw, mailbox=_quote(folder)), "APPEND")


@asynccontextmanager
async def open_session(mailbox: Mailbox, *, command_timeout: float = 60) -> AsyncIterator[ImapSession]:
    """Connect (TLS verified unless the URL is a loopback imap://), log in; log out at the end."""
    client: aioimaplib.IMAP4
    if mailbox.tls:
        context = ssl.create_default_context()
        client = aioimaplib.IMAP4_SSL(
            mailbox.host, mailbox.port, timeout=command_timeout, ssl_context=context
        )
    else:
        client = aioimaplib.IMAP4(mailbox.host, mailbox.port, timeout=command_timeout)
    session = ImapSession(client, mailbox)
    try:
        await client.wait_hello_from_server()
        response = await client.login(mailbox.user, mailbox.password.get_secret_value())
        if response.result != "OK":
            raise MailboxError(f"{mailbox.display}: login refused")
        yield session
    finally:
        with suppress(*IMAP_ERRORS, MailboxError):
            if client.get_state() in {"AUTH", "SELECTED"}:
                await asyncio.wait_for(client.logout(), timeout=5)
        if client.protocol is not None and client.protocol.transport is not None:
            client.protocol.transport.close()


def _quote(folder: str) -> str:
    return f'"{folder}"'
