"""imaps:// verifies the server's certificate: an untrusted one is refused, a trusted one works."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace

import pytest

from handoff_bot.clock import ManualClock
from handoff_bot.intake.email.imap import open_session
from handoff_bot.intake.email.mailbox import Mailbox
from handoff_bot.storage.uow import SqlUnitOfWorkFactory
from tests.integration.mail import dovecot as dc
from tests.integration.mail import mails
from tests.integration.mail.helpers import contacts, deliver, poller


@pytest.fixture
def tls_mailbox(dovecot_server: dc.Dovecot, mailbox: Mailbox) -> Mailbox:
    if dovecot_server.tls_port is None:
        pytest.skip("no openssl to make the test server's certificate")
    return replace(mailbox, port=dovecot_server.tls_port, tls=True)


async def test_a_self_signed_certificate_is_refused(tls_mailbox: Mailbox) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        async with open_session(tls_mailbox, command_timeout=10):
            pass


async def test_a_trusted_certificate_is_accepted_and_mail_comes_in_over_tls(
    tls_mailbox: Mailbox,
    dovecot_server: dc.Dovecot,
    uow: SqlUnitOfWorkFactory,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What an operator does for a private CA: the system trust store (here via SSL_CERT_FILE).
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot_server.certificate))
    await deliver(tls_mailbox, mails.mail(subject="Over TLS"))

    assert await asyncio.wait_for(poller(tls_mailbox, uow, clock).sweep_once(), timeout=60) == 1

    assert [c.subject for c in await contacts(uow)] == ["Over TLS"]
