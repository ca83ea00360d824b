"""Email test fixtures: one private Dovecot per test session, a fresh mailbox user per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff_bot.intake.email.mailbox import Mailbox
from tests.integration.mail import dovecot as dc


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[dc.Dovecot]:
    executable = dc.binary()
    if executable is None:
        pytest.skip(dc.NOT_INSTALLED)
    with dc.running(executable) as server:
        yield server


@pytest.fixture
def mailbox(dovecot_server: dc.Dovecot) -> Mailbox:
    return dovecot_server.add_user()
