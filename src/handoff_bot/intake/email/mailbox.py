"""Where to read mail: HANDOFF_IMAP_URL parsed into mailboxes, credentials kept out of every log line."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import SecretStr

IMAP_PORT, IMAPS_PORT = 143, 993
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class MailboxUrlError(ValueError):
    """A malformed HANDOFF_IMAP_URL entry; the message never contains the password."""


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: SecretStr = field(repr=False)
    folder: str = "INBOX"
    tls: bool = True

    @property
    def display(self) -> str:
        """The URL without user and password: what logs and errors may show."""
        scheme = "imaps" if self.tls else "imap"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}/{self.folder}"


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(url: str, schemes: set[str], usage: str) -> tuple[SplitResult, int | None, str, str]:
    """The URL's parts, port, lower-case scheme and host, or MailboxUrlError saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise MailboxUrlError("not a valid URL (a password with / ? # or @ must be %-encoded)") from exc
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise MailboxUrlError(usage)
    host = parts.hostname or ""
    if not host:
        raise MailboxUrlError("the URL names no host")
    return parts, port, scheme, host


def parse_mailbox(url: str) -> Mailbox:
    """`imaps://user:password@host[:port][/folder]`; plain `imap://` only to a loopback address."""
    parts, port, scheme, host = _split(url, {"imap", "imaps"}, "use imaps://user:password@host/INBOX")
    if scheme == "imap" and not is_loopback(host):
        raise MailboxUrlError(f"plain imap:// is only allowed to a loopback address; use imaps://{host}")
    if not parts.username or parts.password is None:
        raise MailboxUrlError(f"the URL for {host} has no user and password")
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    if any(c in folder for c in '\r\n"\\') or len(folder) > 200:
        raise MailboxUrlError(f"the folder name for {host} is not usable")
    return Mailbox(
        host=host,
        port=port or (IMAPS_PORT if scheme == "imaps" else IMAP_PORT),
        user=unquote(parts.username),
        password=SecretStr(unquote(parts.password)),
        folder=folder,
        tls=scheme == "imaps",
    )


def parse_mailboxes(value: str) -> list[Mailbox]:
    """Several URLs separated by spaces."""
    return [parse_mailbox(url) for url in value.split()]


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    user: str | None
    password: SecretStr | None = field(repr=False)
    implicit_tls: bool  # smtps://: TLS from the first byte; smtp://: STARTTLS
    require_tls: bool  # False only for smtp:// to a loopback address (test sinks, a local relay)

    @property
    def display(self) -> str:
        scheme = "smtps" if self.implicit_tls else "smtp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtps://user:password@host[:465]` or `smtp://user:password@host[:587]` (STARTTLS required,
    except to a loopback address); user and password are optional (a relay that trusts us)."""
    parts, port, scheme, host = _split(
        url, {"smtp", "smtps"}, "use smtps://user:password@host:465 or smtp://user:password@host:587"
    )
    return SmtpServer(
        host=host,
        port=port or (465 if scheme == "smtps" else 587),
        user=unquote(parts.username) if parts.username else None,
        password=SecretStr(unquote(parts.password)) if parts.password is not None else None,
        implicit_tls=scheme == "smtps",
        require_tls=scheme == "smtps" or not is_loopback(host),
    )
