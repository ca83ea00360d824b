"""Email settings: mailbox and SMTP URLs are checked at start-up, and their passwords never shown."""

from __future__ import annotations

import pytest

from handoff_bot.config import SettingsError, load_settings
from handoff_bot.intake.email.mailbox import MailboxUrlError, parse_mailbox, parse_mailboxes, parse_smtp_url


def test_an_imaps_url_gives_host_port_user_folder_and_a_display_without_credentials() -> None:
    box = parse_mailbox("imaps://info%40example.org:p%40ss%2Fw0rd@mail.example.org/Klanten")
    assert (box.host, box.port, box.user, box.folder, box.tls) == (
        "mail.example.org",
        993,
        "info@example.org",
        "Klanten",
        True,
    )
    assert box.password.get_secret_value() == "p@ss/w0rd"
    assert box.display == "imaps://mail.example.org:993/Klanten"
    assert "p@ss" not in repr(box) and "info@" not in box.display


def test_several_mailboxes_are_separated_by_spaces_and_default_to_inbox() -> None:
    boxes = parse_mailboxes("imaps://a:x@one.example  imap://b:y@127.0.0.1:1143")
    assert [(b.host, b.port, b.folder, b.tls) for b in boxes] == [
        ("one.example", 993, "INBOX", True),
        ("127.0.0.1", 1143, "INBOX", False),
    ]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("imap://u:p@mail.example.org/INBOX", "only allowed to a loopback address"),
        ("pop3://u:p@mail.example.org", "use imaps://"),
        ("imaps://mail.example.org", "no user and password"),
        ("imaps://u:p@:993", "no host"),
        ("imaps://u:p@host:99999", "not a valid URL"),
    ],
)
def test_bad_mailbox_urls_are_refused_with_a_reason(url: str, message: str) -> None:
    with pytest.raises(MailboxUrlError, match=message) as caught:
        parse_mailbox(url)
    assert ":p@" not in str(caught.value)


def test_settings_name_the_variable_and_never_echo_the_password() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(imap_url="imap://desk:hunter2-secret@mail.example.org/INBOX")
    assert "HANDOFF_IMAP_URL" in str(caught.value) and "hunter2" not in str(caught.value)
    settings = load_settings(imap_url="imaps://desk:hunter2-secret@mail.example.org/INBOX")
    assert "hunter2" not in repr(settings) and [b.host for b in settings.mailboxes()] == ["mail.example.org"]
    assert load_settings().mailboxes() == []


def test_the_acknowledgement_needs_smtp_settings() -> None:
    with pytest.raises(SettingsError, match="HANDOFF_ACK_EMAIL: needs HANDOFF_SMTP_URL"):
        load_settings(ack_email=True)
    settings = load_settings(
        ack_email=True, smtp_url="smtps://desk:pw@smtp.example.org", smtp_from="Service <info@example.org>"
    )
    assert settings.ack_email
    with pytest.raises(SettingsError, match="HANDOFF_SMTP_FROM"):
        load_settings(smtp_from="not an address")


def test_smtp_urls_require_tls_except_to_loopback() -> None:
    server = parse_smtp_url("smtp://desk:pw@smtp.example.org")
    assert (server.port, server.implicit_tls, server.require_tls) == (587, False, True)
    assert parse_smtp_url("smtps://smtp.example.org").port == 465
    local = parse_smtp_url("smtp://127.0.0.1:2525")
    assert not local.require_tls and local.user is None and local.display == "smtp://127.0.0.1:2525"


def test_the_done_folder_is_a_plain_folder_name() -> None:
    assert load_settings(imap_done_folder=" Verwerkt ").imap_done_folder == "Verwerkt"
    assert load_settings(imap_done_folder="").imap_done_folder is None
    with pytest.raises(SettingsError, match="HANDOFF_IMAP_DONE_FOLDER"):
        load_settings(imap_done_folder='Done"\r\nA1 DELETE INBOX')
